using CnnFixations.Imaging;

namespace CnnFixations.Tests.Imaging;

public class PreprocessingTests
{
    private const float Tolerance = 1e-5f;

    private static RgbImage Pixel(byte r, byte g, byte b) => new(1, 1, [r, g, b]);

    [Fact]
    public void TorchvisionScalesToUnitThenNormalizesPerChannel()
    {
        // (255/255 - 0.485) / 0.229 = 2.2489083; (0 - 0.456) / 0.224 = -2.0357143;
        // (128/255 - 0.406) / 0.225 = (0.5019608 - 0.406) / 0.225 = 0.4264924.
        var t = Preprocessing.Torchvision.ToTensor(Pixel(255, 0, 128));
        Assert.Equal(2.2489083f, t[0], Tolerance);
        Assert.Equal(-2.0357143f, t[1], Tolerance);
        Assert.Equal(0.4264924f, t[2], Tolerance);
    }

    [Fact]
    public void CaffeIsBgrMinusTheBgrMean()
    {
        // R=10, G=20, B=30: channel 0 is blue, 30 - 103.939; 1 green, 20 - 116.779; 2 red, 10 - 123.68.
        var t = Preprocessing.Caffe.ToTensor(Pixel(10, 20, 30));
        Assert.Equal(-73.939f, t[0], 1e-4f);
        Assert.Equal(-96.779f, t[1], 1e-4f);
        Assert.Equal(-113.68f, t[2], 1e-4f);
    }

    [Fact]
    public void TfMapsToMinusOneOne()
    {
        // p / 127.5 - 1: 0 -> -1, 255 -> 1, 51 -> -0.6.
        var t = Preprocessing.Tf.ToTensor(Pixel(0, 255, 51));
        Assert.Equal(-1f, t[0], Tolerance);
        Assert.Equal(1f, t[1], Tolerance);
        Assert.Equal(-0.6f, t[2], Tolerance);
    }

    [Fact]
    public void TensorIsChannelPlanesOfRowMajorPixels()
    {
        // 2x2 image, pixel i = (i, 10 + i, 20 + i); with Scale 1, mean 0, std 1 the tensor is the raw values.
        var identity = new Preprocessing("raw", [0, 0, 0], [1, 1, 1], 1, false);
        var image = new RgbImage(2, 2, [0, 10, 20, 1, 11, 21, 2, 12, 22, 3, 13, 23]);
        Assert.Equal(new float[] { 0, 1, 2, 3, 10, 11, 12, 13, 20, 21, 22, 23 }, identity.ToTensor(image));
        Assert.Equal(new float[] { 20, 21, 22, 23, 10, 11, 12, 13, 0, 1, 2, 3 }, (identity with { Bgr = true }).ToTensor(image));
    }

    [Theory]
    [InlineData("torchvision", "torchvision")]
    [InlineData("CAFFE", "caffe")]
    [InlineData(" Tf ", "tf")]
    public void PresetsAreFoundByNameInAnyCase(string name, string expected)
    {
        Assert.Equal(expected, Preprocessing.FromName(name).Name);
    }

    [Fact]
    public void UnknownNameListsTheValidNames()
    {
        var e = Assert.Throws<CnnFixationsException>(() => Preprocessing.FromName("imagenet"));
        Assert.Contains("imagenet", e.Message);
        Assert.Contains("torchvision, caffe, tf", e.Message);
    }

    [Fact]
    public void MetadataMeanAndStdAreInPixelUnits()
    {
        var p = Preprocessing.FromMetadata(new Dictionary<string, string> { ["mean"] = "128,128,128", ["std"] = " 128, 128 ,128" });
        Assert.NotNull(p);
        Assert.Equal("model", p.Name);
        Assert.False(p.Bgr);
        // (p - 128) / 128: 0 -> -1, 128 -> 0, 192 -> 0.5.
        Assert.Equal(new float[] { -1, 0, 0.5f }, p.ToTensor(Pixel(0, 128, 192)));
    }

    [Fact]
    public void MetadataColourOrderBgrSwapsChannels()
    {
        var p = Preprocessing.FromMetadata(new Dictionary<string, string>
        {
            ["mean"] = "1,2,3", ["std"] = "1,1,2", ["color_order"] = "BGR",
        });
        Assert.NotNull(p);
        Assert.True(p.Bgr);
        // R=10, G=20, B=30: channel 0 = (30 - 1) / 1, channel 1 = (20 - 2) / 1, channel 2 = (10 - 3) / 2.
        Assert.Equal(new float[] { 29, 18, 3.5f }, p.ToTensor(Pixel(10, 20, 30)));
    }

    [Fact]
    public void MetadataMayNameAPreset()
    {
        Assert.Same(Preprocessing.Caffe, Preprocessing.FromMetadata(new Dictionary<string, string> { ["preprocessing"] = "caffe" }));
        Assert.Null(Preprocessing.FromMetadata(new Dictionary<string, string> { ["preprocessing"] = "something else" }));
        Assert.Null(Preprocessing.FromMetadata(new Dictionary<string, string> { ["author"] = "x" }));
    }

    [Theory]
    [InlineData("1,2", "1,1,1")]
    [InlineData("a,b,c", "1,1,1")]
    [InlineData("1,2,3", "1,0,1")]
    public void MalformedMetadataIsReported(string mean, string std)
    {
        Assert.Throws<CnnFixationsException>(() => Preprocessing.FromMetadata(new Dictionary<string, string> { ["mean"] = mean, ["std"] = std }));
    }
}
