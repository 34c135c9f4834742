using Loom.Formats;
using Loom.Tensors;

namespace Loom.Formats.Tests;

public class SafeTensorsRoundTripTests
{
    [Fact]
    public void SaveThenOpenKeepsValuesShapesDtypesAndMetadata()
    {
        string path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"loom-st-{Guid.NewGuid():N}.safetensors");
        try
        {
            var rng = new Rng(3);
            using var a = Tensor.RandNormal(rng, 0, 1, 3, 5);
            using var h = a.ToDType(DType.F16);
            using var b = a.ToDType(DType.BF16);
            SafeTensorsFile.Save(path, new Dictionary<string, Tensor> { ["a"] = a, ["h"] = h, ["b"] = b }, new Dictionary<string, string> { ["format"] = "pt" });
            using var f = SafeTensorsFile.Open(path);
            Assert.Equal("pt", f.Metadata["format"]);
            Assert.Equal(a.ToArray(), f.Tensors["a"].ToArray());
            Assert.Equal(DType.F16, f.Tensors["h"].DType);
            Assert.Equal(h.ToArray(), f.Tensors["h"].ToArray());
            Assert.Equal(b.ToArray(), f.Tensors["b"].ToArray());
            Assert.Equal([3, 5], f.Tensors["b"].Shape);
        }
        finally { File.Delete(path); }
    }
}
