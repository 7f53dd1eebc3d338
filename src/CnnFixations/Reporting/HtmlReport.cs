using System.Globalization;
using System.Net;
using System.Text;
using CnnFixations.Maps;

namespace CnnFixations.Reporting;

/// <summary>One image of a run, with paths relative to the report's folder.</summary>
public sealed record ReportEntry(string Source, string? Overlay, string? Json, IReadOnlyList<Prediction> Predictions, int[]? Box, string? Error);

/// <summary>
/// An HTML page that needs no network access, with one card per image: the overlay (linked, not
/// embedded, and loaded lazily, so a thousand cards stay light), the top-5 classes, the box and links
/// to the files; failed images as error cards. The page says that it belongs with the pictures of its
/// folder. Cards are plain HTML; a small script sorts them by score or name and filters them.
/// </summary>
public static class HtmlReport
{
    public const string FileName = "report.html";

    public static string Write(string outDir, IReadOnlyList<ReportEntry> entries, string title)
    {
        string path = Path.Combine(outDir, FileName);
        AtomicFile.WriteAllBytes(path, Encoding.UTF8.GetBytes(Render(entries, title)));
        return path;
    }

    public static string Render(IReadOnlyList<ReportEntry> entries, string title)
    {
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        int failed = entries.Count(e => e.Error != null);
        sb.Append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">")
          .Append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">")
          .Append("<title>").Append(E(title)).Append("</title>\n<style>").Append(Css).Append("</style></head>\n<body>\n")
          .Append("<header><h1>").Append(E(title)).Append("</h1><p class=\"summary\">")
          .Append(entries.Count - failed).Append(" explained, ").Append(failed).Append(" failed</p>")
          .Append("<p class=\"note\">The pictures are files in this page's folder: copy or move the folder as a whole.</p>")
          .Append("<div class=\"controls\"><button type=\"button\" data-sort=\"score\">sort by score</button>")
          .Append("<button type=\"button\" data-sort=\"name\">sort by name</button>")
          .Append("<input type=\"search\" id=\"filter\" placeholder=\"filter by file or label\"></div></header>\n<main id=\"cards\">\n");
        for (int i = 0; i < entries.Count; i++)
        {
            var e = entries[i];
            double score = e.Predictions.Count > 0 ? e.Predictions[0].Score : -1;
            string label = e.Predictions.Count > 0 ? e.Predictions[0].Label ?? e.Predictions[0].Index.ToString(inv) : "";
            sb.Append("<article class=\"card").Append(e.Error != null ? " error" : "").Append("\" data-order=\"").Append(i)
              .Append("\" data-score=\"").Append(score.ToString("R", inv)).Append("\" data-name=\"").Append(E(e.Source))
              .Append("\" data-text=\"").Append(E((e.Source + " " + label).ToLowerInvariant())).Append("\">");
            if (e.Overlay != null)
                sb.Append("<a href=\"").Append(U(e.Overlay)).Append("\"><img loading=\"lazy\" decoding=\"async\" src=\"").Append(U(e.Overlay))
                  .Append("\" alt=\"fixations on ").Append(E(e.Source)).Append("\"></a>");
            sb.Append("<h2 title=\"").Append(E(e.Source)).Append("\">").Append(E(Path.GetFileName(e.Source))).Append("</h2>");
            if (e.Error != null) sb.Append("<p class=\"message\">").Append(E(e.Error)).Append("</p>");
            else
            {
                sb.Append("<ol>");
                foreach (var p in e.Predictions)
                    sb.Append("<li><span class=\"label\">").Append(E(p.Label ?? "class " + p.Index.ToString(inv))).Append("</span> <span class=\"score\">")
                      .Append((p.Score * 100).ToString("F1", inv)).Append("%</span></li>");
                sb.Append("</ol><p class=\"box\">box ").Append(e.Box == null ? "none" : "[" + string.Join(", ", e.Box) + "]").Append("</p>");
            }
            sb.Append("<p class=\"links\">");
            if (e.Overlay != null) sb.Append("<a href=\"").Append(U(e.Overlay)).Append("\">overlay</a> ");
            if (e.Json != null) sb.Append("<a href=\"").Append(U(e.Json)).Append("\">json</a> ");
            sb.Append("</p></article>\n");
        }
        sb.Append("</main>\n<script>").Append(Script).Append("</script>\n</body></html>\n");
        return sb.ToString();
    }

    private static string E(string text) => WebUtility.HtmlEncode(text);

    /// <summary>A relative path as an attribute-safe URL (each segment percent-encoded).</summary>
    private static string U(string relative) =>
        string.Join("/", relative.Replace('\\', '/').Split('/').Select(Uri.EscapeDataString));

    private const string Css = """
        body{font-family:system-ui,sans-serif;margin:0;background:#f4f4f4;color:#222}
        header{position:sticky;top:0;background:#fff;padding:8px 16px;border-bottom:1px solid #ddd;z-index:1}
        h1{font-size:18px;margin:4px 0}.summary{margin:0 0 6px;color:#555}.note{margin:0 0 6px;color:#777;font-size:12px}
        .controls button,.controls input{margin-right:8px;padding:4px 8px}
        main{display:grid;grid-template-columns:repeat(auto-fill,minmax(260px,1fr));gap:12px;padding:16px}
        .card{background:#fff;border:1px solid #ddd;border-radius:6px;padding:8px;overflow:hidden}
        .card img{width:100%;height:auto;min-height:120px;background:#ddd;display:block}
        .card h2{font-size:14px;margin:6px 0;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
        .card ol{margin:0;padding-left:20px;font-size:13px}.score{color:#666}
        .box,.links{font-size:12px;color:#555;margin:4px 0}
        .error{border-color:#d33;background:#fff5f5}.message{color:#b00;font-size:13px}
        .hidden{display:none}
        """;

    private const string Script = """
        (function(){
          var main=document.getElementById('cards');
          var cards=Array.prototype.slice.call(main.children);
          function sortBy(key){
            var sorted=cards.slice().sort(function(a,b){
              if(key==='score'){var d=parseFloat(b.dataset.score)-parseFloat(a.dataset.score);if(d!==0)return d;}
              else{var c=a.dataset.name.localeCompare(b.dataset.name);if(c!==0)return c;}
              return parseInt(a.dataset.order,10)-parseInt(b.dataset.order,10);
            });
            var f=document.createDocumentFragment();sorted.forEach(function(c){f.appendChild(c);});main.appendChild(f);
          }
          document.querySelectorAll('button[data-sort]').forEach(function(b){b.addEventListener('click',function(){sortBy(b.dataset.sort);});});
          document.getElementById('filter').addEventListener('input',function(e){
            var q=e.target.value.toLowerCase();
            cards.forEach(function(c){c.classList.toggle('hidden',q.length>0&&c.dataset.text.indexOf(q)<0);});
          });
          sortBy('name');
          var ready=document.createElement('div');ready.id='report-ready';ready.dataset.cards=String(cards.length);ready.hidden=true;document.body.appendChild(ready);
        })();
        """;
}
