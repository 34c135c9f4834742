using System.Text;

namespace Loom.Text.Chat.Jinja;

/// <summary>A variable scope: the template's globals, a for-loop iteration or a macro call.</summary>
internal sealed class Scope(Scope? parent)
{
    private readonly PyDict _vars = new();

    public Scope? Parent { get; } = parent;

    public bool TryGet(string name, out object? value)
    {
        for (var s = this; s is not null; s = s.Parent)
            if (s._vars.TryGetValue(name, out value)) return true;
        value = null;
        return false;
    }

    public void Set(string name, object? value) => _vars[name] = value;

    /// <summary>Empties the scope so a loop can reuse it for its next iteration.</summary>
    public void Clear() => _vars.Clear();
}

/// <summary>Executes a parsed template: statements write to the output, expressions evaluate with Python semantics.</summary>
internal sealed class JinjaInterpreter
{
    private enum Flow { Normal, Break, Continue }

    private int _loopDepth;
    private int _macroDepth;

    /// <summary>Deeper macro recursion than this is a template bug; stop it before the stack overflows.</summary>
    private const int MaxMacroDepth = 64;

    /// <summary>Work and output budgets: a template that loops or grows text without bound fails instead of hanging.</summary>
    private const long MaxSteps = 5_000_000;
    public const int MaxOutputChars = 1 << 26;
    private long _steps;

    public string Render(List<Stmt> program, Scope globals)
    {
        var sb = new StringBuilder();
        var flow = Exec(program, globals, sb);
        if (flow != Flow.Normal) throw new ChatTemplateException("'break' or 'continue' outside a for loop");
        return sb.ToString();
    }

    private Flow Exec(List<Stmt> body, Scope scope, StringBuilder sb)
    {
        foreach (var stmt in body)
        {
            var flow = ExecOne(stmt, scope, sb);
            if (flow != Flow.Normal) return flow;
        }
        return Flow.Normal;
    }

    private Flow ExecOne(Stmt stmt, Scope scope, StringBuilder sb)
    {
        if (++_steps > MaxSteps) throw new ChatTemplateException($"the template ran more than {MaxSteps} steps", stmt.Line);
        if (sb.Length > MaxOutputChars) throw new ChatTemplateException($"the template produced more than {MaxOutputChars} characters", stmt.Line);
        try
        {
            switch (stmt)
            {
                case TextStmt t: sb.Append(t.Text); return Flow.Normal;
                case OutputStmt o: sb.Append(Py.Str(Eval(o.Value, scope))); return Flow.Normal;
                case IfStmt i: return Exec(Py.Truthy(Eval(i.Test, scope)) ? i.Then : i.Else, scope, sb);
                case ForStmt f: return ExecFor(f, scope, sb);
                case SetStmt s:
                {
                    object? value;
                    if (s.Body is not null)
                    {
                        var inner = new StringBuilder();
                        Exec(s.Body, scope, inner);
                        value = inner.ToString();
                    }
                    else value = Eval(s.Value!, scope);
                    Assign(s.Target, value, scope);
                    return Flow.Normal;
                }
                case MacroStmt m: scope.Set(m.Name, MakeMacro(m, scope)); return Flow.Normal;
                case CallBlockStmt c:
                {
                    JinjaCallable caller = (_, _) =>
                    {
                        var inner = new StringBuilder();
                        Exec(c.Body, new Scope(scope), inner);
                        return inner.ToString();
                    };
                    var callee = Eval(c.Call.Callee, scope);
                    var (args, kwargs) = EvalArgs(c.Call.Args, c.Call.Kwargs, scope);
                    kwargs["caller"] = caller;
                    sb.Append(Py.Str(Invoke(callee, args, kwargs, c.Call.Callee)));
                    return Flow.Normal;
                }
                case WithStmt w:
                {
                    var inner = new Scope(scope);
                    foreach (var (target, value) in w.Assignments) Assign(target, Eval(value, scope), inner);
                    return Exec(w.Body, inner, sb);
                }
                case FilterBlockStmt fb:
                {
                    var inner = new StringBuilder();
                    Exec(fb.Body, scope, inner);
                    var (args, kwargs) = EvalArgs(fb.Filter.Args, fb.Filter.Kwargs, scope);
                    sb.Append(Py.Str(JinjaFilters.Apply(this, fb.Filter.Name, inner.ToString(), args, kwargs)));
                    return Flow.Normal;
                }
                case BreakStmt: return _loopDepth > 0 ? Flow.Break : throw new ChatTemplateException("'break' outside a for loop", stmt.Line);
                case ContinueStmt: return _loopDepth > 0 ? Flow.Continue : throw new ChatTemplateException("'continue' outside a for loop", stmt.Line);
                default: throw new InvalidOperationException($"unknown statement {stmt.GetType().Name}");
            }
        }
        catch (ChatTemplateException e) when (e.Line == 0)
        {
            throw new ChatTemplateException(e.Problem, stmt.Line);
        }
    }

    private Flow ExecFor(ForStmt f, Scope scope, StringBuilder sb)
    {
        var source = Py.Iterate(Eval(f.Iterable, scope));
        var items = new List<object?>(source.Count);
        foreach (var item in source)
        {
            if (f.Filter is null) { items.Add(item); continue; }
            var probe = new Scope(scope);
            Assign(f.Target, item, probe);
            if (Py.Truthy(Eval(f.Filter, probe))) items.Add(item);
        }
        if (items.Count == 0) return Exec(f.Empty, scope, sb);
        _loopDepth++;
        try
        {
            var loop = new LoopContext(items, _loopDepth);
            var iteration = new Scope(scope);
            for (int i = 0; i < items.Count; i++)
            {
                if (++_steps > MaxSteps) throw new ChatTemplateException($"the template ran more than {MaxSteps} steps", f.Line);
                loop.Index0 = i;
                iteration.Clear();
                iteration.Set("loop", loop);
                Assign(f.Target, items[i], iteration);
                if (Exec(f.Body, iteration, sb) == Flow.Break) break;
            }
        }
        finally { _loopDepth--; }
        return Flow.Normal;
    }

    private void Assign(Expr target, object? value, Scope scope)
    {
        switch (target)
        {
            case NameExpr n: scope.Set(n.Name, value); break;
            case AttrExpr { Obj: NameExpr owner } a:
                if (!scope.TryGet(owner.Name, out var ns) || ns is not JinjaNamespace nsObj)
                    throw new ChatTemplateException($"cannot assign attribute '{a.Name}' on '{owner.Name}': it is not a namespace()", a.Line);
                nsObj.Attributes[a.Name] = value;
                break;
            case ListExpr { IsTuple: true } t:
                var parts = Py.Iterate(value);
                if (parts.Count != t.Items.Count)
                    throw new ChatTemplateException($"cannot unpack {parts.Count} values into {t.Items.Count} names", t.Line);
                for (int i = 0; i < parts.Count; i++) Assign(t.Items[i], parts[i], scope);
                break;
            default: throw new ChatTemplateException("cannot assign to this expression", target.Line);
        }
    }

    private JinjaCallable MakeMacro(MacroStmt m, Scope defined) => (args, kwargs) =>
    {
        var scope = new Scope(defined);
        for (int i = 0; i < m.Params.Count; i++)
        {
            var (name, dflt) = m.Params[i];
            object? value;
            if (i < args.Count) value = args[i];
            else if (kwargs.TryGetValue(name, out var kv)) value = kv;
            else if (dflt is not null) value = Eval(dflt, scope);
            else value = new Undefined($"parameter '{name}' of macro '{m.Name}' was not given");
            scope.Set(name, value);
        }
        scope.Set("varargs", args.Skip(m.Params.Count).ToList());
        var extra = new PyDict(kwargs.Where(kv => m.Params.All(p => !Py.Equal(p.Name, kv.Key)) && !Py.Equal(kv.Key, "caller")));
        scope.Set("kwargs", extra);
        if (kwargs.TryGetValue("caller", out var caller)) scope.Set("caller", caller);
        var sb = new StringBuilder();
        int saved = _loopDepth;
        if (_macroDepth >= MaxMacroDepth) throw new ChatTemplateException($"macro '{m.Name}': recursion deeper than {MaxMacroDepth} calls");
        _loopDepth = 0;
        _macroDepth++;
        try { Exec(m.Body, scope, sb); }
        finally { _loopDepth = saved; _macroDepth--; }
        return sb.ToString();
    };

    // ---- expressions ----

    public object? Eval(Expr expr, Scope scope)
    {
        try
        {
            return EvalInner(expr, scope);
        }
        catch (ChatTemplateException e) when (e.Line == 0)
        {
            throw new ChatTemplateException(e.Problem, expr.Line);
        }
    }

    private object? EvalInner(Expr expr, Scope scope)
    {
        switch (expr)
        {
            case ConstExpr c: return c.Value;
            case NameExpr n: return scope.TryGet(n.Name, out var v) ? v : new Undefined($"'{n.Name}' is undefined");
            case ListExpr l: return l.IsTuple ? new PyTuple(l.Items.Select(i => Eval(i, scope))) : l.Items.Select(i => Eval(i, scope)).ToList();
            case DictExpr d:
            {
                var dict = new PyDict();
                foreach (var (k, val) in d.Items)
                {
                    var key = Eval(k, scope);
                    dict[Py.HashKey(key)] = Eval(val, scope);
                }
                return dict;
            }
            case AttrExpr a: return JinjaMethods.GetAttr(Eval(a.Obj, scope), a.Name);
            case ItemExpr i: return JinjaMethods.GetItem(Eval(i.Obj, scope), Eval(i.Key, scope));
            case SliceExpr s:
                return JinjaMethods.Slice(Eval(s.Obj, scope),
                    s.Start is null ? null : Eval(s.Start, scope),
                    s.Stop is null ? null : Eval(s.Stop, scope),
                    s.Step is null ? null : Eval(s.Step, scope));
            case CallExpr c:
            {
                var callee = Eval(c.Callee, scope);
                var (args, kwargs) = EvalArgs(c.Args, c.Kwargs, scope);
                return Invoke(callee, args, kwargs, c.Callee);
            }
            case FilterExpr f:
            {
                var value = f.Value is null ? null : Eval(f.Value, scope);
                var (args, kwargs) = EvalArgs(f.Args, f.Kwargs, scope);
                return JinjaFilters.Apply(this, f.Name, value, args, kwargs);
            }
            case TestExpr t:
            {
                var value = Eval(t.Value, scope);
                var args = t.Args.Select(a => Eval(a, scope)).ToList();
                bool r = JinjaTests.Apply(t.Name, value, args);
                return t.Negated ? !r : r;
            }
            case UnaryExpr u:
            {
                var value = Eval(u.Operand, scope);
                return u.Op switch
                {
                    "not" => !Py.Truthy(value),
                    "-" => value switch
                    {
                        long l => l == long.MinValue ? throw new ChatTemplateException("integer overflow in unary '-'") : (object)(-l),
                        double d => -d,
                        bool b => b ? -1L : 0L,
                        _ => throw new ChatTemplateException($"bad operand type for unary -: '{Py.TypeName(value)}'"),
                    },
                    _ => Py.IsNumber(value) ? (value is bool b2 ? (b2 ? 1L : 0L) : value) : throw new ChatTemplateException($"bad operand type for unary +: '{Py.TypeName(value)}'"),
                };
            }
            case BinaryExpr b:
                if (b.Op == "and") { var l = Eval(b.Left, scope); return Py.Truthy(l) ? Eval(b.Right, scope) : l; }
                if (b.Op == "or") { var l = Eval(b.Left, scope); return Py.Truthy(l) ? l : Eval(b.Right, scope); }
                return Operators.Binary(b.Op, Eval(b.Left, scope), Eval(b.Right, scope));
            case CondExpr c:
                if (Py.Truthy(Eval(c.Test, scope))) return Eval(c.Then, scope);
                return c.Else is null ? new Undefined("the inline if expression has no else") : Eval(c.Else, scope);
            default: throw new InvalidOperationException($"unknown expression {expr.GetType().Name}");
        }
    }

    private (List<object?>, PyDict) EvalArgs(List<Expr> args, List<(string Name, Expr Value)> kwargs, Scope scope)
    {
        var a = args.Select(x => Eval(x, scope)).ToList();
        var k = new PyDict();
        foreach (var (name, value) in kwargs) k[name] = Eval(value, scope);
        return (a, k);
    }

    private static object? Invoke(object? callee, List<object?> args, PyDict kwargs, Expr calleeExpr) => callee switch
    {
        JinjaCallable f => f(args, kwargs),
        Undefined u => throw new ChatTemplateException($"{u.Description}: it cannot be called"),
        _ => throw new ChatTemplateException($"'{Py.TypeName(callee)}' object is not callable" +
            (calleeExpr is NameExpr n ? $" ('{n.Name}')" : calleeExpr is AttrExpr a ? $" ('{a.Name}')" : "")),
    };
}
