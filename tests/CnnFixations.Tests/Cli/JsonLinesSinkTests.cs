using System.Text;
using CnnFixations.Cli;

namespace CnnFixations.Tests.Cli;

/// <summary>results.jsonl and --json are written as the images finish, from the documents in memory, in input order.</summary>
public class JsonLinesSinkTests
{
    private static byte[] Line(string text) => Encoding.UTF8.GetBytes(text);

    [Fact]
    public void Inputs_that_finish_out_of_order_are_written_in_input_order_and_a_gap_is_passed_over_at_the_end()
    {
        using var sink = JsonLinesSink.InMemory();
        sink.Add(2, new[] { Line("{\"i\":2}\n") });
        sink.Add(0, new[] { Line("{\"i\":0}"), Line("{\"i\":0.5}\n") });
        sink.Add(4, Array.Empty<byte[]>());
        sink.Add(5, new[] { Line("{\"i\":5}") });
        // Input 1 finishes; 3 never started (an interrupted run).
        sink.Add(1, new[] { Line("{\"i\":1}\n") });
        sink.Commit();
        Assert.Equal("{\"i\":0}\n{\"i\":0.5}\n{\"i\":1}\n{\"i\":2}\n{\"i\":5}\n", Encoding.UTF8.GetString(sink.ToArray()));
        Assert.Throws<InvalidOperationException>(() => sink.Add(6, Array.Empty<byte[]>()));
    }

    [Fact]
    public void A_file_replaces_its_target_on_commit_only_and_leaves_no_temporary_file()
    {
        string dir = TestPaths.NewTempDir();
        string path = Path.Combine(dir, "out.jsonl");
        File.WriteAllText(path, "old\n");
        using (var failed = JsonLinesSink.ToFile(path))
            failed.Add(0, new[] { Line("{}") });
        Assert.Equal("old\n", File.ReadAllText(path));
        using (var done = JsonLinesSink.ToFile(path))
        {
            done.Add(1, new[] { Line("{\"i\":1}") });
            done.Add(0, new[] { Line("{\"i\":0}") });
            done.Commit();
        }
        Assert.Equal("{\"i\":0}\n{\"i\":1}\n", File.ReadAllText(path));
        Assert.Equal(new[] { path }, Directory.GetFiles(dir));
    }
}
