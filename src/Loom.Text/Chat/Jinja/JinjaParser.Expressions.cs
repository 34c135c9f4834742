using System.Globalization;

namespace Loom.Text.Chat.Jinja;

/// <summary>Expression parsing, with Jinja2's precedence (jinja2/parser.py): conditional, or, and, not, comparisons,
/// + -, ~, * / // %, **, unary, then postfix (. [] ()), filters (|) and tests (is).</summary>
internal sealed partial class JinjaParser
{

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
        Enter();
        try { return ParseExpressionInner(); }
        finally { _depth--; }
    }

    private Expr ParseExpressionInner()
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
        int n = 0;
        while (Peek.Is(TokenKind.Name, "or")) { Chain(ref n); left = new BinaryExpr(Next().Line, "or", left, ParseAnd()); }
        return left;
    }

    private Expr ParseAnd()
    {
        var left = ParseNot();
        int n = 0;
        while (Peek.Is(TokenKind.Name, "and")) { Chain(ref n); left = new BinaryExpr(Next().Line, "and", left, ParseNot()); }
        return left;
    }

    private Expr ParseNot()
    {
        if (Peek.Is(TokenKind.Name, "not"))
        {
            var t = Next();
            Enter();
            try { return new UnaryExpr(t.Line, "not", ParseNot()); }
            finally { _depth--; }
        }
        return ParseCompare();
    }

    private static readonly string[] CompareOps = ["==", "!=", "<", ">", "<=", ">="];

    private Expr ParseCompare()
    {
        var left = ParseMath1();
        Expr? chain = null;
        int n = 0;
        while (true)
        {
            var t = Peek;
            string op;
            if (t.Kind == TokenKind.Operator && Array.IndexOf(CompareOps, t.Value) >= 0) { _i++; op = t.Value; }
            else if (t.Is(TokenKind.Name, "in")) { _i++; op = "in"; }
            else if (t.Is(TokenKind.Name, "not") && PeekAt(1).Is(TokenKind.Name, "in")) { _i += 2; op = "not in"; }
            else break;
            Chain(ref n);
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
        int n = 0;
        while (Peek.Kind == TokenKind.Operator && Peek.Value is "+" or "-")
        {
            Chain(ref n);
            var t = Next();
            left = new BinaryExpr(t.Line, t.Value, left, ParseConcat());
        }
        return left;
    }

    private Expr ParseConcat()
    {
        var left = ParseMath2();
        int n = 0;
        while (Peek.Is(TokenKind.Operator, "~")) { Chain(ref n); left = new BinaryExpr(Next().Line, "~", left, ParseMath2()); }
        return left;
    }

    private Expr ParseMath2()
    {
        var left = ParsePow();
        int n = 0;
        while (Peek.Kind == TokenKind.Operator && Peek.Value is "*" or "/" or "//" or "%")
        {
            Chain(ref n);
            var t = Next();
            left = new BinaryExpr(t.Line, t.Value, left, ParsePow());
        }
        return left;
    }

    private Expr ParsePow()
    {
        var left = ParseUnary(true);
        int n = 0;
        while (Peek.Is(TokenKind.Operator, "**")) { Chain(ref n); left = new BinaryExpr(Next().Line, "**", left, ParseUnary(true)); }
        return left;
    }

    private Expr ParseUnary(bool withFilter)
    {
        var t = Peek;
        Expr node;
        if (t.Is(TokenKind.Operator, "-") || t.Is(TokenKind.Operator, "+"))
        {
            _i++;
            Enter();
            try { node = new UnaryExpr(t.Line, t.Value, ParseUnary(false)); }
            finally { _depth--; }
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
        int links = 0;
        while (true)
        {
            Chain(ref links);
            var t = Peek;
            if (t.Is(TokenKind.Operator, "."))
            {
                _i++;
                var n = Next();
                if (n.Kind == TokenKind.Name) node = new AttrExpr(t.Line, node, n.Value);
                else if (n.Kind == TokenKind.Integer && long.TryParse(n.Value, NumberStyles.None, CultureInfo.InvariantCulture, out long index))
                    node = new ItemExpr(t.Line, node, new ConstExpr(n.Line, index));
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
        int n = 0;
        while (true)
        {
            Chain(ref n);
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
