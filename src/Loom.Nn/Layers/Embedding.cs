using Loom.Tensors;

namespace Loom.Nn;

/// <summary>A lookup table of <c>weight</c> (numEmbeddings, embeddingDim), initialised N(0, 1) like PyTorch's nn.Embedding.</summary>
public sealed class Embedding : Module
{
    public Tensor Weight { get; }
    public int NumEmbeddings { get; }
    public int EmbeddingDim { get; }

    /// <summary>Row that is initialised to zero and receives no gradient (PyTorch's padding_idx); negative counts from the end.</summary>
    public int? PaddingIdx { get; }

    public Embedding(int numEmbeddings, int embeddingDim, Rng rng, int? paddingIdx = null)
    {
        if (numEmbeddings <= 0 || embeddingDim <= 0) throw new ArgumentOutOfRangeException(nameof(numEmbeddings), $"Embedding({numEmbeddings}, {embeddingDim}): sizes must be positive");
        if (paddingIdx is int p)
        {
            if (p < -numEmbeddings || p >= numEmbeddings) throw new ArgumentOutOfRangeException(nameof(paddingIdx), $"padding_idx {p} is out of range for {numEmbeddings} embeddings");
            PaddingIdx = p < 0 ? p + numEmbeddings : p;
        }
        NumEmbeddings = numEmbeddings;
        EmbeddingDim = embeddingDim;
        Weight = RegisterParameter("weight", Init.NewParameter(numEmbeddings, embeddingDim));
        Init.Normal(Weight, rng);
        if (PaddingIdx is int pad) Weight.Span.Slice(pad * embeddingDim, embeddingDim).Clear();
    }

    /// <summary>ids laid out as <paramref name="idShape"/> -> (idShape..., embeddingDim).</summary>
    public Tensor Forward(int[] ids, params int[] idShape) => F.Embedding(Weight, ids, idShape, PaddingIdx);

    /// <summary>ids as an F32 tensor of integers -> (ids.Shape..., embeddingDim).</summary>
    public Tensor Forward(Tensor ids) => F.Embedding(Weight, ids, PaddingIdx);
}
