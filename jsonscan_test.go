package orgtree

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

// stdTokens renders encoding/json's token stream, or "" plus an error.
func stdTokens(doc []byte) (string, error) {
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
			fmt.Fprintf(&b, "s%q", tok.str)
		case tokNumber:
			fmt.Fprintf(&b, "n%s", tok.str)
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
		[]byte(`"\ud800"`), []byte(`"\ud800\u0041"`), []byte("\"bad \xff utf8\""), []byte(`"\uDFFF\uD800"`),
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
		m := bytes.Clone(base)
		for k := 1 + rng.IntN(3); k > 0; k-- {
			pos := rng.IntN(len(m))
			switch rng.IntN(3) {
			case 0:
				const alphabet = "{}[],:\"\\ 0aeE.-+ntf\xff"
				m[pos] = alphabet[rng.IntN(len(alphabet))]
			case 1:
				m = append(m[:pos], m[pos+1:]...)
			default:
				m = m[:pos]
			}
		}
		docs = append(docs, m)
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
