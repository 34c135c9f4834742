using System.Globalization;

namespace Loom.Text.Chat.Jinja;

/// <summary>Recursive-descent parser from Jinja tokens to statements, with Jinja2's operator precedence.</summary>
internal sealed class JinjaParser
{
    private readonly List<Token> _tokens;
    private int _i;
    private readonly Stack<(string Tag, int Line)> _open = new();

    private JinjaParser(List<Token> tokens) => _tokens = tokens;

    public static List<Stmt> Parse(string source)
    {
        var parser = new JinjaParser(JinjaLexer.Tokenize(source));
        var body = parser.ParseBody([], out _);
        return body;
    }

    private Token Peek => _tokens[_i];

    private Token PeekAt(int k) => _tokens[Math.Min(_i + k, _tokens.Count - 1)];

    private Token Next() => _tokens[_i++];

    private static ChatTemplateException Error(Token at, string message) => new(message, at.Line);

    private bool SkipOp(string op)
    {
        if (!Peek.Is(TokenKind.Operator, op)) return false;
        _i++;
        return true;
    }

    private bool SkipName(string name)
    {
        if (!Peek.Is(TokenKind.Name, name)) return false;
        _i++;
        return true;
    }

    private void ExpectOp(string op)
    {
        if (!SkipOp(op)) throw Error(Peek, $"expected '{op}', found {Peek}");
    }

    private string ExpectName()
    {
        if (Peek.Kind != TokenKind.Name) throw Error(Peek, $"expected a name, found {Peek}");
        return Next().Value;
    }

    private void ExpectBlockEnd()
    {
        if (Peek.Kind != TokenKind.BlockEnd) throw Error(Peek, $"expected end of statement '%}}', found {Peek}");
        _i++;
    }

    /// <summary>Parses statements until a block tag whose name is in <paramref name="ends"/>; returns that name
    /// (its tag's name token consumed, the rest of the tag not) in <paramref name="end"/>.</summary>
    private List<Stmt> ParseBody(string[] ends, out string end)
    {
        var body = new List<Stmt>();
        while (true)
        {
            var t = Peek;
            switch (t.Kind)
            {
                case TokenKind.Eof:
                    if (ends.Length > 0)
                    {
                        var (tag, line) = _open.Count > 0 ? _open.Peek() : ("block", t.Line);
                        throw new ChatTemplateException($"unexpected end of template: '{{% {tag} %}}' on line {line} is never closed " +
                            $"(expected {string.Join(" or ", ends.Select(e => $"'{{% {e} %}}'"))})", line);
                    }
                    end = "";
                    return body;
                case TokenKind.Text:
                    _i++;
                    body.Add(new TextStmt(t.Line, t.Value));
                    break;
                case TokenKind.VarBegin:
                    _i++;
                    var value = ParseTuple();
                    if (Peek.Kind != TokenKind.VarEnd) throw Error(Peek, $"expected end of print statement '}}}}', found {Peek}");
                    _i++;
                    body.Add(new OutputStmt(t.Line, value));
                    break;
                case TokenKind.BlockBegin:
                    _i++;
                    var nameTok = Peek;
                    if (nameTok.Kind != TokenKind.Name) throw Error(nameTok, $"expected a statement name after '{{%', found {nameTok}");
                    if (Array.IndexOf(ends, nameTok.Value) >= 0)
                    {
                        _i++;
                        end = nameTok.Value;
                        return body;
                    }
                    if (Array.IndexOf(ClosingTags, nameTok.Value) >= 0)
                        throw Error(nameTok, $"unexpected '{{% {nameTok.Value} %}}'" +
                            (ends.Length > 0 ? $"; expected {string.Join(" or ", ends.Select(e => $"'{{% {e} %}}'"))}" : " with no block open"));
                    body.Add(ParseStatement());
                    break;
                default:
                    throw Error(t, $"unexpected {t}");
            }
        }
    }

    private static readonly string[] ClosingTags =
        ["elif", "else", "endif", "endfor", "endset", "endmacro", "endcall", "endfilter", "endraw", "endgeneration"];

    private Stmt ParseStatement()
    {
        var t = Peek;
        _open.Push((t.Value, t.Line));
        try { return ParseStatementInner(); }
        finally { _open.Pop(); }
    }

    private Stmt ParseStatementInner()
    {
        var t = Next();
        switch (t.Value)
        {
            case "if": return ParseIf(t.Line);
            case "for": return ParseFor(t.Line);
            case "set": return ParseSet(t.Line);
            case "macro": return ParseMacro(t.Line);
            case "call": return ParseCallBlock(t.Line);
            case "filter": return ParseFilterBlock(t.Line);
            case "break": ExpectBlockEnd(); return new BreakStmt(t.Line);
            case "continue": ExpectBlockEnd(); return new ContinueStmt(t.Line);
            case "generation":
            {
                // HF transformers' AssistantTracker extension: {% generation %} only marks text, rendering it unchanged.
                ExpectBlockEnd();
                var body = ParseBody(["endgeneration"], out _);
                ExpectBlockEnd();
                return new IfStmt(t.Line, new ConstExpr(t.Line, true), body, []);
            }
            default:
                throw Error(t, $"unknown statement '{t.Value}' (this interpreter supports if, for, set, macro, call, filter, break, continue, raw, generation)");
        }
    }

    private IfStmt ParseIf(int line)
    {
        var test = ParseExpression();
        ExpectBlockEnd();
        var then = ParseBody(["elif", "else", "endif"], out string end);
        List<Stmt> els = [];
        if (end == "elif") els = [ParseIf(_tokens[_i - 1].Line)];
        else if (end == "else")
        {
            ExpectBlockEnd();
            els = ParseBody(["endif"], out _);
            ExpectBlockEnd();
        }
        else ExpectBlockEnd();
        return new IfStmt(line, test, then, els);
    }

    private ForStmt ParseFor(int line)
    {
        var target = ParseAssignTarget(allowAttr: false);
        if (!SkipName("in")) throw Error(Peek, $"expected 'in' in for loop, found {Peek}");
        var iterable = ParseTuple(withCondExpr: false);
        Expr? filter = null;
        if (SkipName("if")) filter = ParseExpression();
        if (SkipName("recursive")) throw Error(_tokens[_i - 1], "recursive for loops are not supported");
        ExpectBlockEnd();
        var body = ParseBody(["endfor", "else"], out string end);
        List<Stmt> empty = [];
        if (end == "else")
        {
            ExpectBlockEnd();
            empty = ParseBody(["endfor"], out _);
        }
        ExpectBlockEnd();
        return new ForStmt(line, target, iterable, filter, body, empty);
    }

    private SetStmt ParseSet(int line)
    {
        var target = ParseAssignTarget(allowAttr: true);
        if (SkipOp("="))
        {
            var value = ParseTuple();
            ExpectBlockEnd();
            return new SetStmt(line, target, value, null);
        }
        ExpectBlockEnd();
        var body = ParseBody(["endset"], out _);
        ExpectBlockEnd();
        return new SetStmt(line, target, null, body);
    }

    /// <summary>name, name.attr (set only) or a comma-separated tuple of names.</summary>
    private Expr ParseAssignTarget(bool allowAttr)
    {
        var first = Peek;
        var items = new List<Expr>();
        bool paren = SkipOp("(");
        do
        {
            var t = Peek;
            string name = ExpectName();
            if (allowAttr && SkipOp("."))
            {
                string attr = ExpectName();
                items.Add(new AttrExpr(t.Line, new NameExpr(t.Line, name), attr));
            }
            else items.Add(new NameExpr(t.Line, name));
        } while (SkipOp(",") && Peek.Kind == TokenKind.Name);
        if (paren) ExpectOp(")");
        return items.Count == 1 && !paren ? items[0] : new ListExpr(first.Line, items, true);
    }

    private MacroStmt ParseMacro(int line)
    {
        string name = ExpectName();
        ExpectOp("(");
        var ps = new List<(string, Expr?)>();
        while (!SkipOp(")"))
        {
            if (ps.Count > 0) ExpectOp(",");
            if (SkipOp(")")) break;
            string p = ExpectName();
            Expr? d = SkipOp("=") ? ParseExpression() : null;
            ps.Add((p, d));
        }
        ExpectBlockEnd();
        var body = ParseBody(["endmacro"], out _);
        if (Peek.Kind == TokenKind.Name) _i++;
        ExpectBlockEnd();
        return new MacroStmt(line, name, ps, body);
    }

    private CallBlockStmt ParseCallBlock(int line)
    {
        if (ParseExpression() is not CallExpr call) throw Error(_tokens[_i - 1], "expected a macro call after 'call'");
        ExpectBlockEnd();
        var body = ParseBody(["endcall"], out _);
        ExpectBlockEnd();
        return new CallBlockStmt(line, call, body);
    }

    private FilterBlockStmt ParseFilterBlock(int line)
    {
        var f = ParseFilter(null);
        ExpectBlockEnd();
        var body = ParseBody(["endfilter"], out _);
        ExpectBlockEnd();
        return new FilterBlockStmt(line, f, body);
    }

    // ---- expressions (precedence as in jinja2/parser.py) ----

    /// <summary>An expression, or an implicit tuple "a, b".</summary>
    private Expr ParseTuple(bool withCondExpr = true)
    {
        int line = Peek.Line;
        var first = withCondExpr ? ParseExpression() : ParseOr();
        if (!Peek.Is(TokenKind.Operator, ",")) return first;
        var items = new List<Expr> { first };
        while (SkipOp(","))
        {
            if (Peek.Kind is TokenKind.VarEnd or TokenKind.BlockEnd || Peek.Is(TokenKind.Operator, ")")) break;
            items.Add(withCondExpr ? ParseExpression() : ParseOr());
        }
        return new ListExpr(line, items, true);
    }

    private Expr ParseExpression()
    {
        var expr = ParseOr();
        while (Peek.Is(TokenKind.Name, "if"))
        {
            int line = Next().Line;
            var test = ParseOr();
            Expr? els = SkipName("else") ? ParseExpression() : null;
            expr = new CondExpr(line, test, expr, els);
        }
        return expr;
    }

    private Expr ParseOr()
    {
        var left = ParseAnd();
        while (Peek.Is(TokenKind.Name, "or")) left = new BinaryExpr(Next().Line, "or", left, ParseAnd());
        return left;
    }

    private Expr ParseAnd()
    {
        var left = ParseNot();
        while (Peek.Is(TokenKind.Name, "and")) left = new BinaryExpr(Next().Line, "and", left, ParseNot());
        return left;
    }

    private Expr ParseNot()
    {
        if (Peek.Is(TokenKind.Name, "not")) return new UnaryExpr(Next().Line, "not", ParseNot());
        return ParseCompare();
    }

    private static readonly string[] CompareOps = ["==", "!=", "<", ">", "<=", ">="];

    private Expr ParseCompare()
    {
        var left = ParseMath1();
        Expr? chain = null;
        while (true)
        {
            var t = Peek;
            string op;
            if (t.Kind == TokenKind.Operator && Array.IndexOf(CompareOps, t.Value) >= 0) { _i++; op = t.Value; }
            else if (t.Is(TokenKind.Name, "in")) { _i++; op = "in"; }
            else if (t.Is(TokenKind.Name, "not") && PeekAt(1).Is(TokenKind.Name, "in")) { _i += 2; op = "not in"; }
            else break;
            var right = ParseMath1();
            var cmp = new BinaryExpr(t.Line, op, left, right);
            chain = chain is null ? cmp : new BinaryExpr(t.Line, "and", chain, cmp);
            left = right;
        }
        return chain ?? left;
    }

    private Expr ParseMath1()
    {
        var left = ParseConcat();
        while (Peek.Kind == TokenKind.Operator && Peek.Value is "+" or "-")
        {
            var t = Next();
            left = new BinaryExpr(t.Line, t.Value, left, ParseConcat());
        }
        return left;
    }

    private Expr ParseConcat()
    {
        var left = ParseMath2();
        while (Peek.Is(TokenKind.Operator, "~")) left = new BinaryExpr(Next().Line, "~", left, ParseMath2());
        return left;
    }

    private Expr ParseMath2()
    {
        var left = ParsePow();
        while (Peek.Kind == TokenKind.Operator && Peek.Value is "*" or "/" or "//" or "%")
        {
            var t = Next();
            left = new BinaryExpr(t.Line, t.Value, left, ParsePow());
        }
        return left;
    }

    private Expr ParsePow()
    {
        var left = ParseUnary(true);
        while (Peek.Is(TokenKind.Operator, "**")) left = new BinaryExpr(Next().Line, "**", left, ParseUnary(true));
        return left;
    }

    private Expr ParseUnary(bool withFilter)
    {
        var t = Peek;
        Expr node;
        if (t.Is(TokenKind.Operator, "-") || t.Is(TokenKind.Operator, "+"))
        {
            _i++;
            node = new UnaryExpr(t.Line, t.Value, ParseUnary(false));
        }
        else node = ParsePostfix(ParsePrimary());
        return withFilter ? ParseFilterExpr(node) : node;
    }

    private Expr ParsePrimary()
    {
        var t = Next();
        switch (t.Kind)
        {
            case TokenKind.Name:
                return t.Value switch
                {
                    "true" or "True" => new ConstExpr(t.Line, true),
                    "false" or "False" => new ConstExpr(t.Line, false),
                    "none" or "None" => new ConstExpr(t.Line, null),
                    _ => new NameExpr(t.Line, t.Value),
                };
            case TokenKind.String:
            {
                string s = t.Value;
                while (Peek.Kind == TokenKind.String) s += Next().Value;
                return new ConstExpr(t.Line, s);
            }
            case TokenKind.Integer:
                if (!long.TryParse(t.Value, NumberStyles.None, CultureInfo.InvariantCulture, out long l))
                    throw Error(t, $"integer literal {t.Value} is too large");
                return new ConstExpr(t.Line, l);
            case TokenKind.Float:
                return new ConstExpr(t.Line, double.Parse(t.Value, NumberStyles.Float, CultureInfo.InvariantCulture));
            case TokenKind.Operator when t.Value == "(":
            {
                if (SkipOp(")")) return new ListExpr(t.Line, [], true);
                var inner = ParseTuple();
                ExpectOp(")");
                return inner;
            }
            case TokenKind.Operator when t.Value == "[":
            {
                var items = new List<Expr>();
                while (!SkipOp("]"))
                {
                    if (items.Count > 0) { ExpectOp(","); if (SkipOp("]")) break; }
                    items.Add(ParseExpression());
                }
                return new ListExpr(t.Line, items, false);
            }
            case TokenKind.Operator when t.Value == "{":
            {
                var items = new List<(Expr, Expr)>();
                while (!SkipOp("}"))
                {
                    if (items.Count > 0) { ExpectOp(","); if (SkipOp("}")) break; }
                    var k = ParseExpression();
                    ExpectOp(":");
                    items.Add((k, ParseExpression()));
                }
                return new DictExpr(t.Line, items);
            }
            default:
                throw Error(t, $"unexpected {t} in expression");
        }
    }

    private Expr ParsePostfix(Expr node)
    {
        while (true)
        {
            var t = Peek;
            if (t.Is(TokenKind.Operator, "."))
            {
                _i++;
                var n = Next();
                if (n.Kind == TokenKind.Name) node = new AttrExpr(t.Line, node, n.Value);
                else if (n.Kind == TokenKind.Integer) node = new ItemExpr(t.Line, node, new ConstExpr(n.Line, long.Parse(n.Value, CultureInfo.InvariantCulture)));
                else throw Error(n, $"expected an attribute name after '.', found {n}");
            }
            else if (t.Is(TokenKind.Operator, "[")) { _i++; node = ParseSubscript(node, t.Line); }
            else if (t.Is(TokenKind.Operator, "(")) { _i++; var (a, k) = ParseCallArgs(); node = new CallExpr(t.Line, node, a, k); }
            else return node;
        }
    }

    private Expr ParseSubscript(Expr obj, int line)
    {
        Expr? start = null, stop = null, step = null;
        if (!Peek.Is(TokenKind.Operator, ":")) start = ParseExpression();
        if (!SkipOp(":"))
        {
            ExpectOp("]");
            return new ItemExpr(line, obj, start!);
        }
        if (!Peek.Is(TokenKind.Operator, "]") && !Peek.Is(TokenKind.Operator, ":")) stop = ParseExpression();
        if (SkipOp(":") && !Peek.Is(TokenKind.Operator, "]")) step = ParseExpression();
        ExpectOp("]");
        return new SliceExpr(line, obj, start, stop, step);
    }

    /// <summary>Arguments after '(' up to and including ')'.</summary>
    private (List<Expr>, List<(string, Expr)>) ParseCallArgs()
    {
        var args = new List<Expr>();
        var kwargs = new List<(string, Expr)>();
        while (!SkipOp(")"))
        {
            if (args.Count + kwargs.Count > 0) { ExpectOp(","); if (SkipOp(")")) break; }
            if (Peek.Kind == TokenKind.Name && PeekAt(1).Is(TokenKind.Operator, "="))
            {
                string name = Next().Value;
                _i++;
                kwargs.Add((name, ParseExpression()));
            }
            else
            {
                if (kwargs.Count > 0) throw Error(Peek, "positional argument after keyword argument");
                args.Add(ParseExpression());
            }
        }
        return (args, kwargs);
    }

    private Expr ParseFilterExpr(Expr node)
    {
        while (true)
        {
            if (Peek.Is(TokenKind.Operator, "|")) { _i++; node = ParseFilter(node); }
            else if (Peek.Is(TokenKind.Name, "is")) { _i++; node = ParseTest(node); }
            else if (Peek.Is(TokenKind.Operator, "(")) { var t = Next(); var (a, k) = ParseCallArgs(); node = new CallExpr(t.Line, node, a, k); }
            else return node;
        }
    }

    private FilterExpr ParseFilter(Expr? value)
    {
        var t = Peek;
        string name = ExpectName();
        while (SkipOp(".")) name += "." + ExpectName();
        List<Expr> args = [];
        List<(string, Expr)> kwargs = [];
        if (SkipOp("(")) (args, kwargs) = ParseCallArgs();
        return new FilterExpr(t.Line, value, name, args, kwargs);
    }

    private TestExpr ParseTest(Expr value)
    {
        var t = Peek;
        bool negated = SkipName("not");
        string name = ExpectName();
        while (SkipOp(".")) name += "." + ExpectName();
        var args = new List<Expr>();
        var p = Peek;
        if (SkipOp("("))
        {
            var (a, _) = ParseCallArgs();
            args = a;
        }
        else if ((p.Kind is TokenKind.Name or TokenKind.String or TokenKind.Integer or TokenKind.Float
                  || p.Is(TokenKind.Operator, "[") || p.Is(TokenKind.Operator, "{"))
                 && !(p.Kind == TokenKind.Name && p.Value is "else" or "or" or "and" or "if" or "is" or "in" or "not"))
        {
            args.Add(ParsePostfix(ParsePrimary()));
        }
        return new TestExpr(t.Line, value, name, args, negated);
    }
}
