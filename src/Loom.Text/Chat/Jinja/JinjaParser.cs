using System.Globalization;

namespace Loom.Text.Chat.Jinja;

/// <summary>Recursive-descent parser from Jinja tokens to statements, with Jinja2's operator precedence.</summary>
internal sealed partial class JinjaParser
{
    private readonly List<Token> _tokens;
    private int _i;
    private readonly Stack<(string Tag, int Line)> _open = new();
    private int _depth;

    /// <summary>Nesting (blocks, parentheses, unary operators) and operator chains deeper than real templates ever
    /// go are rejected, so a hostile template cannot overflow the parser's or the interpreter's stack.</summary>
    private const int MaxDepth = 100, MaxChain = 500;

    private void Enter()
    {
        if (++_depth > MaxDepth) throw Error(Peek, $"template nests deeper than {MaxDepth} levels");
    }

    private void Chain(ref int n)
    {
        if (++n > MaxChain) throw Error(Peek, $"expression chains more than {MaxChain} operators");
    }

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
        ["elif", "else", "endif", "endfor", "endset", "endmacro", "endcall", "endfilter", "endraw", "endgeneration", "endwith"];

    private Stmt ParseStatement()
    {
        var t = Peek;
        _open.Push((t.Value, t.Line));
        Enter();
        try { return ParseStatementInner(); }
        finally { _open.Pop(); _depth--; }
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
            case "with": return ParseWith(t.Line);
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
                throw Error(t, $"unknown statement '{t.Value}' (this interpreter supports if, for, set, macro, call, filter, with, break, continue, raw, generation)");
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

    private WithStmt ParseWith(int line)
    {
        var assignments = new List<(Expr, Expr)>();
        while (Peek.Kind != TokenKind.BlockEnd)
        {
            if (assignments.Count > 0) ExpectOp(",");
            var target = ParseAssignTarget(allowAttr: false);
            ExpectOp("=");
            assignments.Add((target, ParseExpression()));
        }
        ExpectBlockEnd();
        var body = ParseBody(["endwith"], out _);
        ExpectBlockEnd();
        return new WithStmt(line, assignments, body);
    }

    private FilterBlockStmt ParseFilterBlock(int line)
    {
        var f = ParseFilter(null);
        ExpectBlockEnd();
        var body = ParseBody(["endfilter"], out _);
        ExpectBlockEnd();
        return new FilterBlockStmt(line, f, body);
    }
}
