using System.Numerics;
using Loom.Tensors;

namespace Loom.Nn;

/// <summary>
/// AdamW with PyTorch's semantics (torch.optim.AdamW, amsgrad off): decoupled weight decay p *= 1 - lr*wd,
/// bias-corrected moments, eps added outside the square root. Parameters named in the no-decay set (biases,
/// norms) get no weight decay.
/// </summary>
public sealed class AdamW : Optimizer
{
    private readonly Tensor[] _expAvg;
    private readonly Tensor[] _expAvgSq;
    private readonly bool[] _decay;

    public double Beta1 { get; }
    public double Beta2 { get; }
    public double Eps { get; }
    public double WeightDecay { get; }

    public override string Kind => "AdamW";

    public AdamW(IEnumerable<(string Name, Tensor Parameter)> parameters, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999,
        double eps = 1e-8, double weightDecay = 1e-2, IEnumerable<string>? noDecay = null)
        : base(parameters, lr)
    {
        if (!(beta1 >= 0 && beta1 < 1)) throw new ArgumentOutOfRangeException(nameof(beta1), beta1, "beta1 must be in [0, 1)");
        if (!(beta2 >= 0 && beta2 < 1)) throw new ArgumentOutOfRangeException(nameof(beta2), beta2, "beta2 must be in [0, 1)");
        if (!(eps >= 0)) throw new ArgumentOutOfRangeException(nameof(eps), eps, "eps must be >= 0");
        if (!(weightDecay >= 0)) throw new ArgumentOutOfRangeException(nameof(weightDecay), weightDecay, "weight decay must be >= 0");
        Beta1 = beta1; Beta2 = beta2; Eps = eps; WeightDecay = weightDecay;
        _decay = NoDecay.Flags(ParameterNames, noDecay);
        _expAvg = ZerosLikeParameters();
        _expAvgSq = ZerosLikeParameters();
    }

    /// <summary>All parameters of <paramref name="model"/>.</summary>
    public AdamW(Module model, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8, double weightDecay = 1e-2, IEnumerable<string>? noDecay = null)
        : this(model.NamedParameters(), lr, beta1, beta2, eps, weightDecay, noDecay) { }

    /// <summary>Whether parameter <paramref name="index"/> is decayed.</summary>
    public bool Decays(int index) => _decay[index];

    protected override unsafe void Update(int index, Tensor parameter, Tensor grad, long step)
    {
        // Scalars are formed in double and rounded to float once, as PyTorch does with Python floats.
        double lr = LearningRate;
        double bc1 = 1 - Math.Pow(Beta1, step);
        double bc2 = 1 - Math.Pow(Beta2, step);
        var k = new Kernel
        {
            P = parameter.Data, G = grad.Data, M = _expAvg[index].Data, V = _expAvgSq[index].Data,
            Decay = _decay[index] ? (float)(1 - lr * WeightDecay) : 1f,
            B1 = (float)Beta1, OneMinusB1 = (float)(1 - Beta1),
            B2 = (float)Beta2, OneMinusB2 = (float)(1 - Beta2),
            Bc2Sqrt = (float)Math.Sqrt(bc2), Eps = (float)Eps, NegStepSize = (float)(-(lr / bc1)),
        };
        ElementwiseRunner.Run(checked((int)parameter.Length), k);
    }

    protected override IEnumerable<(string Suffix, Tensor[] PerParameter)> StateTensors()
    {
        yield return ("exp_avg", _expAvg);
        yield return ("exp_avg_sq", _expAvgSq);
    }

    protected override IEnumerable<(string Key, double Value)> HyperParameters()
    {
        yield return ("beta1", Beta1);
        yield return ("beta2", Beta2);
        yield return ("eps", Eps);
        yield return ("weight_decay", WeightDecay);
    }

    /// <summary>
    /// One pass per element with the roundings of PyTorch's CPU kernels (measured on its AVX2 build):
    /// p*=decay; m=fma(g,1-b1,m*b1); v=fma((1-b2)g,g,v*b2); p+=(-step*m)/(sqrt(v)/bc2sqrt+eps).
    /// FusedMultiplyAdd is exactly rounded with or without FMA hardware, so results do not depend on the CPU.
    /// </summary>
    private unsafe struct Kernel : IRangeBody
    {
        public float* P, G, M, V;
        public float Decay, B1, OneMinusB1, B2, OneMinusB2, Bc2Sqrt, Eps, NegStepSize;

        public readonly void Run(int start, int end)
        {
            int i = start;
            int w = Vector<float>.Count;
            if (Vector.IsHardwareAccelerated)
            {
                var decay = new Vector<float>(Decay);
                var b1 = new Vector<float>(B1); var omb1 = new Vector<float>(OneMinusB1);
                var b2 = new Vector<float>(B2); var omb2 = new Vector<float>(OneMinusB2);
                var bc2 = new Vector<float>(Bc2Sqrt); var eps = new Vector<float>(Eps); var ns = new Vector<float>(NegStepSize);
                for (; i <= end - w; i += w)
                {
                    var g = Vector.Load(G + i);
                    var p = Vector.Load(P + i) * decay;
                    var m = Vector.FusedMultiplyAdd(g, omb1, Vector.Load(M + i) * b1);
                    var v = Vector.FusedMultiplyAdd(omb2 * g, g, Vector.Load(V + i) * b2);
                    var denom = Vector.SquareRoot(v) / bc2 + eps;
                    p += ns * m / denom;
                    m.Store(M + i);
                    v.Store(V + i);
                    p.Store(P + i);
                }
            }
            for (; i < end; i++)
            {
                float g = G[i];
                float p = P[i] * Decay;
                float m = MathF.FusedMultiplyAdd(g, OneMinusB1, M[i] * B1);
                float v = MathF.FusedMultiplyAdd(OneMinusB2 * g, g, V[i] * B2);
                float denom = MathF.Sqrt(v) / Bc2Sqrt + Eps;
                M[i] = m;
                V[i] = v;
                P[i] = p + NegStepSize * m / denom;
            }
        }
    }
}
