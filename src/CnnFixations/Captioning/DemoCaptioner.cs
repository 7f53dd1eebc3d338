namespace CnnFixations.Captioning;

/// <summary>The bundled demonstration captioner (models/demo-captioner/): MobileNetV2 encoder, one-layer LSTM decoder.</summary>
public static class DemoCaptioner
{
    public const string Folder = "demo-captioner";
    public const string FeatureTensor = "MobilenetV2/Logits/AvgPool";
}
