using CnnFixations.Evaluation;

namespace CnnFixations.Tests.Evaluation;

public class GroundTruthReaderTests
{
    [Fact]
    public void CsvParserHandlesQuotesDoubledQuotesLineBreaksAndCrLf()
    {
        var rows = GroundTruthReader.ParseCsv("a,\"b,c\",\"say \"\"hi\"\"\"\r\n\"x\ny\",,z\n");
        Assert.Equal(2, rows.Count);
        Assert.Equal(new[] { "a", "b,c", "say \"hi\"" }, rows[0]);
        Assert.Equal(new[] { "x\ny", "", "z" }, rows[1]);
        Assert.Throws<FormatException>(() => GroundTruthReader.ParseCsv("a,\"open\n"));
    }

    [Fact]
    public void CsvGroupsBoxesPerImageIgnoresExtraColumnsAndResolvesPathsFromItsFolder()
    {
        string dir = TestPaths.NewTempDir();
        try
        {
            string csv = Path.Combine(dir, "gt.csv");
            File.WriteAllText(csv,
                "note,image,width,height,class_index,xmin,ymin,xmax,ymax,synset\n" +
                "\"first, with comma\",img/a.jpg,20,10,5,1,2,3.5,4,n1\n" +
                "x,\"img/b c.jpg\",30,30,7,0,0,29,29,n2\n" +
                "y,img/a.jpg,20,10,5,10,0,19,9,n1\n");
            var images = GroundTruthReader.Read(csv);
            Assert.Equal(2, images.Count);
            Assert.Equal(Path.Combine(dir, "img", "a.jpg"), images[0].ImagePath);
            Assert.Equal(Path.Combine(dir, "img", "b c.jpg"), images[1].ImagePath);
            Assert.Equal(new[] { new GroundTruthBox(5, 1, 2, 3.5, 4), new GroundTruthBox(5, 10, 0, 19, 9) }, images[0].Boxes);
            Assert.Equal((20, 10), (images[0].Width, images[0].Height));
            Assert.Equal(7, images[1].ClassIndex);
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void CsvErrorsNameTheProblem()
    {
        string dir = TestPaths.NewTempDir();
        try
        {
            string csv = Path.Combine(dir, "gt.csv");
            File.WriteAllText(csv, "image,class_index,xmin,ymin,xmax\na.jpg,1,0,0,5\n");
            Assert.Contains("ymax", Assert.Throws<CnnFixationsException>(() => GroundTruthReader.Read(csv)).Message);
            File.WriteAllText(csv, "image,class_index,xmin,ymin,xmax,ymax\na.jpg,1,0,0,five,5\n");
            var e = Assert.Throws<CnnFixationsException>(() => GroundTruthReader.Read(csv));
            Assert.Contains("row 2", e.Message);
            Assert.Contains("five", e.Message);
            File.WriteAllText(csv, "image,class_index,xmin,ymin,xmax,ymax\na.jpg,1,5,0,4,5\n");
            Assert.Contains("xmax < xmin", Assert.Throws<CnnFixationsException>(() => GroundTruthReader.Read(csv)).Message);
            Assert.Contains("not found", Assert.Throws<CnnFixationsException>(() => GroundTruthReader.Read(Path.Combine(dir, "none.csv"))).Message);
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void VocFolderMapsSynsetsToClassesAndFindsExtensionlessImages()
    {
        string dir = TestPaths.NewTempDir();
        try
        {
            File.WriteAllText(Path.Combine(dir, "synsets.txt"), "n01440764 tench\nn01443537 goldfish\n\nn01484850 great white shark\n");
            File.WriteAllBytes(Path.Combine(dir, "val_1.JPEG"), new byte[] { 1 });
            File.WriteAllText(Path.Combine(dir, "b.xml"),
                "<annotation><filename>val_1</filename><size><width>50</width><height>40</height></size>" +
                "<object><name>n01484850</name><bndbox><xmin>3</xmin><ymin>4</ymin><xmax>30</xmax><ymax>35</ymax></bndbox></object>" +
                "<object><name>n01443537</name><bndbox><xmin>0</xmin><ymin>0</ymin><xmax>9.5</xmax><ymax>9</ymax></bndbox></object></annotation>");
            File.WriteAllText(Path.Combine(dir, "a.xml"),
                "<annotation><filename>sub/x.png</filename>" +
                "<object><name>n01440764</name><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>2</xmax><ymax>2</ymax></bndbox></object></annotation>");

            var e = Assert.Throws<CnnFixationsException>(() => GroundTruthReader.Read(dir));
            Assert.Contains("--synsets", e.Message);

            var images = GroundTruthReader.Read(dir, Path.Combine(dir, "synsets.txt"));
            Assert.Equal(2, images.Count);
            Assert.Equal(Path.Combine(dir, "sub", "x.png"), images[0].ImagePath);   // a.xml first
            Assert.Equal(new[] { new GroundTruthBox(0, 1, 1, 2, 2) }, images[0].Boxes);
            Assert.Equal(Path.Combine(dir, "val_1.JPEG"), images[1].ImagePath);
            Assert.Equal(new[] { new GroundTruthBox(2, 3, 4, 30, 35), new GroundTruthBox(1, 0, 0, 9.5, 9) }, images[1].Boxes);
            Assert.Equal((50, 40), (images[1].Width, images[1].Height));
            Assert.Equal(2, images[1].ClassIndex);

            File.WriteAllText(Path.Combine(dir, "c.xml"),
                "<annotation><filename>y.jpg</filename><object><name>n99999999</name><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>2</xmax><ymax>2</ymax></bndbox></object></annotation>");
            Assert.Contains("n99999999", Assert.Throws<CnnFixationsException>(() => GroundTruthReader.Read(dir, Path.Combine(dir, "synsets.txt"))).Message);
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void SaliencyMethodRegistryKnowsFixationsAndRejectsOthers()
    {
        Assert.Contains("fixations", ExplanationMethods.All.Select(m => m.Name));
        var methods = ExplanationMethods.TryCreate("fixations, fixations", MapOptions.Default, out var unknown);
        Assert.NotNull(methods);
        Assert.Null(unknown);
        Assert.Equal("fixations", Assert.Single(methods!).Name);
        Assert.Null(ExplanationMethods.TryCreate("fixations,nope", MapOptions.Default, out unknown));
        Assert.Equal("nope", unknown);
    }
}
