using System.Globalization;

namespace CnnFixations.Imaging;

/// <summary>
/// The dictionary of a .npy header, e.g. <c>{'descr': '&lt;f4', 'fortran_order': False, 'shape': (1, 3, 224, 224), }</c>.
/// Parses the subset of Python literal syntax that numpy writes: strings, True/False, tuples of integers.
/// </summary>
internal sealed record NpyHeader(string Descr, bool FortranOrder, int[] Shape)
{
    public static NpyHeader Parse(string text, string path)
    {
        var p = new Parser(text, path);
        var entries = p.ReadDictionary();
        string descr = entries.TryGetValue("descr", out var d) && d is string s
            ? s : throw p.Fail("the 'descr' entry is missing or not a string");
        bool fortran = entries.TryGetValue("fortran_order", out var f) && f is bool b
            ? b : throw p.Fail("the 'fortran_order' entry is missing or not True/False");
        int[] shape = entries.TryGetValue("shape", out var sh) && sh is int[] dims
            ? dims : throw p.Fail("the 'shape' entry is missing or not a tuple of integers");
        return new NpyHeader(descr, fortran, shape);
    }

    /// <summary>The header text numpy would write, without padding.</summary>
    public string Format()
    {
        string dims = Shape.Length == 1 ? $"{Shape[0]}," : string.Join(", ", Shape);
        return $"{{'descr': '{Descr}', 'fortran_order': {(FortranOrder ? "True" : "False")}, 'shape': ({dims}), }}";
    }

    private sealed class Parser(string text, string path)
    {
        private int _pos;

        public CnnFixationsException Fail(string what) =>
            new($"'{path}' is not a valid .npy file: its header {what}");

        public Dictionary<string, object> ReadDictionary()
        {
            var result = new Dictionary<string, object>(StringComparer.Ordinal);
            Expect('{');
            while (true)
            {
                SkipSpace();
                if (Peek() == '}') { _pos++; break; }
                string key = ReadString();
                Expect(':');
                result[key] = ReadValue();
                SkipSpace();
                if (Peek() == ',') { _pos++; continue; }
                Expect('}');
                break;
            }
            SkipSpace();
            if (_pos != text.Length) throw Fail("has text after the dictionary");
            return result;
        }

        private object ReadValue()
        {
            SkipSpace();
            char c = Peek();
            if (c == '\'' || c == '"') return ReadString();
            if (c == '(') return ReadTuple();
            if (Matches("True")) return true;
            if (Matches("False")) return false;
            throw Fail($"has an unexpected value at position {_pos}");
        }

        private int[] ReadTuple()
        {
            Expect('(');
            var dims = new List<int>();
            while (true)
            {
                SkipSpace();
                if (Peek() == ')') { _pos++; return dims.ToArray(); }
                int start = _pos;
                while (_pos < text.Length && char.IsAsciiDigit(text[_pos])) _pos++;
                // Python 2 era files may write long integers as 3L.
                string digits = text[start.._pos];
                if (_pos < text.Length && text[_pos] == 'L') _pos++;
                if (digits.Length == 0 || !int.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out int dim))
                    throw Fail($"has a shape entry that is not a non-negative 32-bit integer at position {start}");
                dims.Add(dim);
                SkipSpace();
                if (Peek() == ',') { _pos++; continue; }
                Expect(')');
                return dims.ToArray();
            }
        }

        private string ReadString()
        {
            SkipSpace();
            char quote = Peek();
            if (quote != '\'' && quote != '"') throw Fail($"has no string at position {_pos}");
            int end = text.IndexOf(quote, _pos + 1);
            if (end < 0) throw Fail("has an unterminated string");
            string s = text[(_pos + 1)..end];
            _pos = end + 1;
            return s;
        }

        private bool Matches(string word)
        {
            if (string.CompareOrdinal(text, _pos, word, 0, word.Length) != 0) return false;
            _pos += word.Length;
            return true;
        }

        private void Expect(char c)
        {
            SkipSpace();
            if (Peek() != c) throw Fail($"has no '{c}' at position {_pos}");
            _pos++;
        }

        private char Peek()
        {
            if (_pos >= text.Length) throw Fail("ends early");
            return text[_pos];
        }

        private void SkipSpace()
        {
            while (_pos < text.Length && char.IsWhiteSpace(text[_pos])) _pos++;
        }
    }
}
