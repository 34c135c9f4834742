namespace Loom.Text.Chat.Jinja;

/// <summary>The <c>loop</c> variable inside a for loop: index, index0, revindex, first, last, length, previtem, nextitem, cycle().</summary>
internal sealed class LoopContext(List<object?> items, int depth)
{
    public int Index0 { get; set; }

    public object? Get(string name) => name switch
    {
        "index" => (long)(Index0 + 1),
        "index0" => (long)Index0,
        "revindex" => (long)(items.Count - Index0),
        "revindex0" => (long)(items.Count - Index0 - 1),
        "first" => Index0 == 0,
        "last" => Index0 == items.Count - 1,
        "length" => (long)items.Count,
        "depth" => (long)depth,
        "depth0" => (long)(depth - 1),
        "previtem" => Index0 > 0 ? items[Index0 - 1] : new Undefined("there is no previous item"),
        "nextitem" => Index0 + 1 < items.Count ? items[Index0 + 1] : new Undefined("there is no next item"),
        "cycle" => (JinjaCallable)((args, _) =>
            args.Count == 0 ? throw new ChatTemplateException("loop.cycle() needs at least one argument") : args[Index0 % args.Count]),
        _ => new Undefined($"'LoopContext' object has no attribute '{name}'"),
    };
}
