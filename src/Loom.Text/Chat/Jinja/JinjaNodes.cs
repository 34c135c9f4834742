namespace Loom.Text.Chat.Jinja;

/// <summary>A template statement (text, output, control flow); Line is where it starts.</summary>
internal abstract record Stmt(int Line);

internal sealed record TextStmt(int Line, string Text) : Stmt(Line);

internal sealed record OutputStmt(int Line, Expr Value) : Stmt(Line);

internal sealed record IfStmt(int Line, Expr Test, List<Stmt> Then, List<Stmt> Else) : Stmt(Line);

/// <summary>{% for targets in iterable [if filter] %} body {% else %} empty {% endfor %}.</summary>
internal sealed record ForStmt(int Line, Expr Target, Expr Iterable, Expr? Filter, List<Stmt> Body, List<Stmt> Empty) : Stmt(Line);

/// <summary>{% set target = value %} or, with Body, {% set target %}body{% endset %}.</summary>
internal sealed record SetStmt(int Line, Expr Target, Expr? Value, List<Stmt>? Body) : Stmt(Line);

internal sealed record MacroStmt(int Line, string Name, List<(string Name, Expr? Default)> Params, List<Stmt> Body) : Stmt(Line);

/// <summary>{% call macro(args) %}body{% endcall %}: the body is passed to the macro as caller().</summary>
internal sealed record CallBlockStmt(int Line, CallExpr Call, List<Stmt> Body) : Stmt(Line);

internal sealed record FilterBlockStmt(int Line, FilterExpr Filter, List<Stmt> Body) : Stmt(Line);

/// <summary>{% with a = 1, b = 2 %}body{% endwith %}: the assignments are visible only inside the body.</summary>
internal sealed record WithStmt(int Line, List<(Expr Target, Expr Value)> Assignments, List<Stmt> Body) : Stmt(Line);

internal sealed record BreakStmt(int Line) : Stmt(Line);

internal sealed record ContinueStmt(int Line) : Stmt(Line);

/// <summary>An expression; Line is where it starts.</summary>
internal abstract record Expr(int Line);

internal sealed record ConstExpr(int Line, object? Value) : Expr(Line);

internal sealed record NameExpr(int Line, string Name) : Expr(Line);

internal sealed record ListExpr(int Line, List<Expr> Items, bool IsTuple) : Expr(Line);

internal sealed record DictExpr(int Line, List<(Expr Key, Expr Value)> Items) : Expr(Line);

/// <summary>obj.name</summary>
internal sealed record AttrExpr(int Line, Expr Obj, string Name) : Expr(Line);

/// <summary>obj[key]</summary>
internal sealed record ItemExpr(int Line, Expr Obj, Expr Key) : Expr(Line);

/// <summary>obj[start:stop:step]</summary>
internal sealed record SliceExpr(int Line, Expr Obj, Expr? Start, Expr? Stop, Expr? Step) : Expr(Line);

internal sealed record CallExpr(int Line, Expr Callee, List<Expr> Args, List<(string Name, Expr Value)> Kwargs) : Expr(Line);

/// <summary>value | name(args)</summary>
internal sealed record FilterExpr(int Line, Expr? Value, string Name, List<Expr> Args, List<(string Name, Expr Value)> Kwargs) : Expr(Line);

/// <summary>value is [not] name(args)</summary>
internal sealed record TestExpr(int Line, Expr Value, string Name, List<Expr> Args, bool Negated) : Expr(Line);

internal sealed record UnaryExpr(int Line, string Op, Expr Operand) : Expr(Line);

/// <summary>Arithmetic, concatenation (~), and/or, and comparisons (==, !=, &lt;, in, not in ...).</summary>
internal sealed record BinaryExpr(int Line, string Op, Expr Left, Expr Right) : Expr(Line);

/// <summary>a if cond else b (b missing means undefined).</summary>
internal sealed record CondExpr(int Line, Expr Test, Expr Then, Expr? Else) : Expr(Line);
