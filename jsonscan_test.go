package orgtree

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

// stdTokens renders encoding/json's token stream, or "" plus an error. It
// holds documents to RFC 8259 where encoding/json is lenient: text that is
// not UTF-8 or escapes a lone surrogate is an error, not U+FFFD.
func stdTokens(doc []byte) (string, error) {
	if !utf8.Valid(doc) {
		return "", errors.New("not UTF-8")
	}
	if loneSurrogate(doc) {
		return "", errors.New("lone surrogate escape")
	}
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var b bytes.Buffer
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return b.String(), nil
		}
		if err != nil {
			return "", err
		}
		switch v := tok.(type) {
		case json.Delim:
			b.WriteString(string(v))
		case string:
			fmt.Fprintf(&b, "s%q", v)
		case json.Number:
			fmt.Fprintf(&b, "n%s", v)
		case bool:
			fmt.Fprintf(&b, "%v", v)
		case nil:
			b.WriteString("null")
		}
		b.WriteByte(' ')
	}
}

// loneSurrogate reports whether a string of doc has a \u escape of a
// surrogate that is not the first half of a high+low pair.
func loneSurrogate(doc []byte) bool {
	hex := func(i int) (uint64, bool) {
		if i+6 > len(doc) || doc[i] != '\\' || doc[i+1] != 'u' {
			return 0, false
		}
		v, err := strconv.ParseUint(string(doc[i+2:i+6]), 16, 32)
		return v, err == nil
	}
	in := false
	for i := 0; i < len(doc); i++ {
		switch {
		case doc[i] == '"':
			in = !in
		case in && doc[i] == '\\':
			v, ok := hex(i)
			switch {
			case !ok:
				i++ // a one-character escape
			case 0xD800 <= v && v < 0xDC00:
				lo, ok := hex(i + 6)
				if !ok || lo < 0xDC00 || lo > 0xDFFF {
					return true
				}
				i += 11
			case 0xDC00 <= v && v <= 0xDFFF:
				return true
			default:
				i += 5
			}
		}
	}
	return false
}

// ourTokens renders the scanner's token stream the same way.
func ourTokens(doc []byte) (string, error) {
	sc := scanner{data: doc}
	var b bytes.Buffer
	for {
		tok, err := sc.next()
		if err != nil {
			return "", err
		}
		switch tok.kind {
		case tokEOF:
			return b.String(), nil
		case tokObjectStart, tokObjectEnd, tokArrayStart, tokArrayEnd:
			b.WriteString(tok.String())
		case tokString:
			fmt.Fprintf(&b, "s%q", tok.raw)
		case tokNumber:
			fmt.Fprintf(&b, "n%s", tok.raw)
		default:
			b.WriteString(tok.String())
		}
		b.WriteByte(' ')
	}
}

func TestScannerMatchesEncodingJSON(t *testing.T) {
	docs := [][]byte{
		[]byte(`{}`), []byte(`[]`), []byte(` [ 1 , -0.5e+3 , 0 , true , false , null ] `),
		[]byte(`{"a":{"b":[{}, [], "x"]}}`), []byte(`"\u00e9\ud83d\ude00\u0041\n\t\"\\\/"`),
		[]byte(`"\ud800"`), []byte(`"\ud800\u0041"`), []byte("\"bad \xff utf8\""), []byte(`"\uDFFF\uD800"`), []byte(`"\ud83d\u0041"`), []byte(`"\ud83d"`),
		[]byte(`"\ud83d\ude00\ud800"`), []byte(`"\\ud800"`), []byte(`"\ufffd"`), []byte("\"\xc3\xa9 caf\xe9\""),
		[]byte("\"\xed\xa0\x80\""), []byte("\"\xc0\xaf\""), []byte("\"\xf4\x90\x80\x80\""),
		[]byte(`[1,]`), []byte(`{"a":1,}`), []byte(`{"a" 1}`), []byte(`{"a":}`), []byte(`[01]`), []byte(`[1.]`),
		[]byte(`[-]`), []byte(`[1e]`), []byte(`[tru]`), []byte(`[truex]`), []byte(`{"a":1}}`), []byte(`[1 2]`),
		[]byte(`{1:2}`), []byte(`["a` + "\x01" + `"]`), []byte(`["\x"]`), []byte(`["\u12"]`), []byte(``), []byte(`  `),
		[]byte(`{} {}`), []byte(`[}`), []byte(`{]`), []byte(`,`), []byte(`[,1]`), []byte(`{"a":[1,{"b":null}],"c":"d"}`),
	}
	if golden, err := os.ReadFile("testdata/export_all.json"); err == nil {
		docs = append(docs, golden)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	base := docs[len(docs)-1]
	for i := 0; i < size(800, 3000); i++ {
		docs = append(docs, damage(rng, base, "{}[],:\"\\ 0aeE.-+ntf\xff", ""))
	}
	valid := 0
	for _, doc := range docs {
		want, werr := stdTokens(doc)
		got, gerr := ourTokens(doc)
		if werr != nil || !json.Valid(doc) {
			require.Error(t, gerr, "accepted invalid JSON %q", doc)
			continue
		}
		valid++
		require.NoError(t, gerr, "rejected valid JSON %q", doc)
		require.Equal(t, want, got, "token streams differ for %q", doc)
	}
	require.Greater(t, valid, 10)
}

// damage returns a copy of base with one to three random changes: a byte
// replaced by one of alphabet, a byte dropped, insert put in (when not
// empty), or the rest cut off.
func damage(rng *rand.Rand, base []byte, alphabet, insert string) []byte {
	m := bytes.Clone(base)
	kinds := 3
	if insert != "" {
		kinds = 4
	}
	for k := 1 + rng.IntN(3); k > 0 && len(m) > 0; k-- {
		pos := rng.IntN(len(m))
		switch kind := rng.IntN(kinds); {
		case kind == 0:
			m[pos] = alphabet[rng.IntN(len(alphabet))]
		case kind == 1:
			m = append(m[:pos], m[pos+1:]...)
		case kind == 2 && insert != "":
			m = append(m[:pos], append([]byte(insert), m[pos:]...)...)
		default:
			m = m[:pos]
		}
	}
	return m
}
