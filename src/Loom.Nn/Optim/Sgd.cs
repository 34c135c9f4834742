using System.Numerics;
using Loom.Tensors;

namespace Loom.Nn;

/// <summary>
/// Stochastic gradient descent with PyTorch's semantics (torch.optim.SGD): coupled weight decay g += wd*p,
/// momentum buf = mu*buf + (1-dampening)*g (the first step copies g), optional Nesterov g += mu*buf.
/// </summary>
public sealed class Sgd : Optimizer
{
    private readonly Tensor[] _momentum;
    private readonly bool[] _decay;

    public double Momentum { get; }
    public double Dampening { get; }
    public bool Nesterov { get; }
    public double WeightDecay { get; }

    public override string Kind => "Sgd";

    public Sgd(IEnumerable<(string Name, Tensor Parameter)> parameters, double lr, double momentum = 0, double dampening = 0,
        bool nesterov = false, double weightDecay = 0, IEnumerable<string>? noDecay = null)
        : base(parameters, lr)
    {
        if (!(momentum >= 0)) throw new ArgumentOutOfRangeException(nameof(momentum), momentum, "momentum must be >= 0");
        if (!(weightDecay >= 0)) throw new ArgumentOutOfRangeException(nameof(weightDecay), weightDecay, "weight decay must be >= 0");
        if (nesterov && (momentum <= 0 || dampening != 0)) throw new ArgumentException("Nesterov momentum needs momentum > 0 and dampening 0");
        Momentum = momentum; Dampening = dampening; Nesterov = nesterov; WeightDecay = weightDecay;
        _decay = NoDecay.Flags(ParameterNames, noDecay);
        _momentum = momentum != 0 ? ZerosLikeParameters() : [];
    }

    public Sgd(Module model, double lr, double momentum = 0, double dampening = 0, bool nesterov = false, double weightDecay = 0, IEnumerable<string>? noDecay = null)
        : this(model.NamedParameters(), lr, momentum, dampening, nesterov, weightDecay, noDecay) { }

    protected override unsafe void Update(int index, Tensor parameter, Tensor grad, long step)
    {
        var k = new Kernel
        {
            P = parameter.Data, G = grad.Data, Buf = Momentum != 0 ? _momentum[index].Data : null,
            Wd = _decay[index] ? (float)WeightDecay : 0f,
            Mu = (float)Momentum, OneMinusDampening = (float)(1 - Dampening),
            First = step == 1, Nesterov = Nesterov, NegLr = (float)(-LearningRate),
        };
        ElementwiseRunner.Run(checked((int)parameter.Length), k);
    }

    protected override IEnumerable<(string Suffix, Tensor[] PerParameter)> StateTensors()
    {
        if (Momentum != 0) yield return ("momentum_buffer", _momentum);
    }

    protected override IEnumerable<(string Key, double Value)> HyperParameters()
    {
        yield return ("momentum", Momentum);
        yield return ("dampening", Dampening);
        yield return ("nesterov", Nesterov ? 1 : 0);
        yield return ("weight_decay", WeightDecay);
    }

    /// <summary>
    /// One pass per element with the roundings of PyTorch's CPU add(alpha) kernel, which is a fused multiply-add
    /// (exactly rounded here with or without FMA hardware, so results do not depend on the CPU).
    /// </summary>
    private unsafe struct Kernel : IRangeBody
    {
        public float* P, G, Buf;
        public float Wd, Mu, OneMinusDampening, NegLr;
        public bool First, Nesterov;

        public readonly void Run(int start, int end)
        {
            int i = start;
            int w = Vector<float>.Count;
            if (Vector.IsHardwareAccelerated)
            {
                var wd = new Vector<float>(Wd); var mu = new Vector<float>(Mu);
                var omd = new Vector<float>(OneMinusDampening); var nlr = new Vector<float>(NegLr);
                for (; i <= end - w; i += w)
                {
                    var p = Vector.Load(P + i);
                    var d = Vector.Load(G + i);
                    if (Wd != 0) d = Vector.FusedMultiplyAdd(p, wd, d);
                    if (Buf != null)
                    {
                        var b = First ? d : Vector.FusedMultiplyAdd(d, omd, Vector.Load(Buf + i) * mu);
                        b.Store(Buf + i);
                        d = Nesterov ? Vector.FusedMultiplyAdd(b, mu, d) : b;
                    }
                    Vector.FusedMultiplyAdd(d, nlr, p).Store(P + i);
                }
            }
            for (; i < end; i++)
            {
                float p = P[i];
                float d = G[i];
                if (Wd != 0) d = MathF.FusedMultiplyAdd(p, Wd, d);
                if (Buf != null)
                {
                    float b = First ? d : MathF.FusedMultiplyAdd(d, OneMinusDampening, Buf[i] * Mu);
                    Buf[i] = b;
                    d = Nesterov ? MathF.FusedMultiplyAdd(b, Mu, d) : b;
                }
                P[i] = MathF.FusedMultiplyAdd(d, NegLr, p);
            }
        }
    }
}
