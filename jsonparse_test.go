package orgtree

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/require"
)

// parseBlocks are the read sizes the fast decoder is tried with: tiny ones
// cut every token somewhere, so each reader meets the end of its data.
var parseBlocks = []int{1, 2, 3, 5, 8, 13, 64, readBlock}

// requireSameParse holds ParseTreeJSON to the reference decoder of
// jsonref_test.go on doc: the same trees, or the same error, word for word,
// whatever the read size and however the reader splits its reads.
func requireSameParse(t testing.TB, doc []byte, lim Limits) {
	t.Helper()
	want, wantArray, wantErr := refParseTreeJSON(bytes.NewReader(doc), lim)
	check := func(how string, got []*TreeNode, gotArray bool, err error) {
		t.Helper()
		if wantErr != nil {
			require.Error(t, err, "%s: accepted what the reference refuses (%v): %q", how, wantErr, doc)
			require.Equal(t, wantErr.Error(), err.Error(), "%s: %q", how, doc)
			for _, sentinel := range []error{ErrInvalidJSON, ErrLimitExceeded} {
				require.Equal(t, errors.Is(wantErr, sentinel), errors.Is(err, sentinel), "%s: %q", how, doc)
			}
			return
		}
		require.NoError(t, err, "%s: refused what the reference accepts: %q", how, doc)
		require.Equal(t, wantArray, gotArray, how)
		require.Equal(t, want, got, "%s: %q", how, doc)
	}
	for _, block := range parseBlocks {
		got, array, err := parseTreeJSON(bytes.NewReader(doc), lim, block)
		check(fmt.Sprintf("block %d", block), got, array, err)
	}
	got, array, err := parseTreeJSON(iotest.OneByteReader(bytes.NewReader(doc)), lim, 7)
	check("one byte per read", got, array, err)
	got, array, err = ParseTreeJSON(iotest.DataErrReader(bytes.NewReader(doc)), lim)
	check("data with io.EOF", got, array, err)
}

// parseFixtures are documents of every shape the decoder knows: exports,
// seeds, keys out of order, unknown fields, escapes, and timestamps the
// fast path must leave to time.Parse.
func parseFixtures(t testing.TB) [][]byte {
	docs := [][]byte{
		[]byte(`{"name":"a"}`), []byte(`[]`), []byte(`[{"name":"a"},{"name":"b","children":[]}]`),
		[]byte(`{"children":[{"name":"x"}],"name":"after children","order":-12,"root":null}`),
		[]byte(`{"name":"n\u0061me escaped","n\u0061me":"dup"}`), []byte(`{"nam\u0065":"escaped key"}`),
		[]byte(`{"name":"x","unknown":{"a":[1,2,{"b":null}]},"unknown":1}`),
		[]byte(`{"name":"x","members":[],"path":[],"resources":[]}`), []byte(`{"name":"x","members":null,"children":null}`),
		[]byte(`{"name":"x","members":["u1",{"id":"u2","name":"N","username":null,"extra":[1],"mainDepartmentId":"d"}]}`),
		[]byte(`{"name":"x","members":[{"name":"N","id":"u2"},{"id":"u3","id":"u4"}]}`),
		[]byte(`{"name":"x","nameI18n":{"en":"X","zh":"甲"},"descriptionI18n":"{\"en\":\"d\"}"}`),
		[]byte(`{"name":"x","nameI18n":{"en":"X","en":"Y"}}`), []byte(`{"name":"x","nameI18n":"not json"}`),
		[]byte(`{"name":"x","resources":[{"namespace":"n","code":"c","type":"API","actions":["read","write"],"x":1}]}`),
		[]byte(`{"name":"x","resources":[{"namespace":"n","namespace":"m"}]}`), []byte(`{"name":"x","resources":[{"actions":[1]}]}`),
		[]byte(`{"name":"x","order":2147483647}`), []byte(`{"name":"x","order":2147483648}`), []byte(`{"name":"x","order":1.5}`),
		[]byte(`{"name":"x","order":-0}`), []byte(`{"name":"x","order":1e3}`), []byte(`{"name":"x","depth":-2147483648}`),
		[]byte(`{"name":"x","order":0123}`), []byte(`{"name":"x","order":"1"}`), []byte(`{"name":"x","root":1}`),
		[]byte(`{"name":"x","root":true,"root":false}`), []byte(`{"name":"x","children":{}}`), []byte(`{"name":"x","children":[1]}`),
		[]byte(`[{"name":"x"},1]`), []byte(`"x"`), []byte(`{"name":"x"} {}`), []byte(`{"name":"x"`), []byte(`{"name":"x",`),
		[]byte("\xef\xbb\xbf{\"name\":\"bom\"}"), []byte("\xef\xbb"), []byte("\xef\xbb\xbf"), []byte(``), []byte(`   `),
		[]byte("{\"name\":\"caf\xe9\"}"), []byte(`{"name":"\ud83d\ude00 \u00e9 \/ \" \\ \b\f\n\r\t"}`), []byte(`{"name":"\ud800"}`),
		[]byte(`{"name":"` + strings.Repeat("长名字 long name ", 40) + `"}`),
		[]byte(`{"name":"` + strings.Repeat(`\u00e9x`, 50) + `"}`),
	}
	for _, stamp := range []string{
		"2026-12-04T19:03:04.379412239Z", "2026-12-04T19:03:04Z", "2026-12-04T19:03:04.1Z", "2024-02-29T23:59:59.5Z",
		"2026-02-29T00:00:00Z", "2026-04-31T00:00:00Z", "2026-13-01T00:00:00Z", "2026-00-01T00:00:00Z", "2026-01-00T00:00:00Z",
		"2026-01-01T24:00:00Z", "2026-01-01T23:60:00Z", "2026-01-01T23:59:60Z", "2026-01-01T00:00:00.Z",
		"2026-01-01T00:00:00.1234567891Z", "2026-01-01T00:00:00,5Z", "2026-01-01t00:00:00Z", "2026-01-01T00:00:00z",
		"2026-01-01T00:00:00+01:00", "2026-01-01T00:00:00-00:00", "2026-01-01 00:00:00Z", "0000-01-01T00:00:00Z",
		"9999-12-31T23:59:59.999999999Z", "1900-02-29T00:00:00Z", "2000-02-29T00:00:00Z", "+026-01-01T00:00:00Z",
		"2026-1-01T00:00:00Z", "2026-01-01T00:00:0Z", "2026-01-01T00:00:00.-1Z", "", "x",
	} {
		docs = append(docs, []byte(`{"name":"t","createdAt":"`+stamp+`","members":[{"id":"u","updatedAt":"`+stamp+`"}]}`))
	}
	for _, name := range []string{"testdata/export_all.json", "testdata/seed_import_export.json"} {
		doc, err := os.ReadFile(name)
		require.NoError(t, err)
		docs = append(docs, doc)
	}
	// An export with members, paths, i18n and resources.
	s := newSample(t)
	var exp bytes.Buffer
	require.NoError(t, s.tr.ExportJSON(&exp, "", ExportOptions{}))
	var pretty bytes.Buffer
	require.NoError(t, json.Indent(&pretty, exp.Bytes(), "", "  "))
	docs = append(docs, exp.Bytes(), pretty.Bytes(), nestedJSON(70))
	return docs
}

// TestParseTreeJSONMatchesReference compares the decoder with the
// reference on the fixtures, on damaged copies of them and under limits.
func TestParseTreeJSONMatchesReference(t *testing.T) {
	docs := parseFixtures(t)
	rng := rand.New(rand.NewPCG(5, 6))
	for _, base := range docs[len(docs)-5:] {
		for range size(150, 1500) {
			docs = append(docs, damage(rng, base, "{}[],:\"\\ 0aeE.-+ntfuZT\xff\xe9", `,"x":[1]`))
		}
	}
	for _, doc := range docs {
		requireSameParse(t, doc, Limits{})
	}
	for _, lim := range []Limits{{MaxDepth: 2}, {MaxImportNodes: 3}, {MaxDepth: 1, MaxImportNodes: 100}} {
		for _, doc := range docs[:len(docs)/10] {
			requireSameParse(t, doc, lim)
		}
	}
}

// TestParseTreeJSONReadError: a reader's error ends the parse with that
// error wrapped, as when the whole document was read first.
func TestParseTreeJSONReadError(t *testing.T) {
	boom := errors.New("boom")
	doc := `{"name":"a","children":[{"name":"b"}]}`
	for cut := 0; cut <= len(doc); cut++ {
		r := io.MultiReader(strings.NewReader(doc[:cut]), iotest.ErrReader(boom))
		_, _, err := parseTreeJSON(r, Limits{}, 4)
		require.ErrorIs(t, err, boom, "cut at %d", cut)
		require.Contains(t, err.Error(), "orgtree: parse: read: boom")
	}
}

// FuzzParseTreeJSON feeds arbitrary bytes to ParseTreeJSON and to the
// reference decoder: both refuse with the same message, or both return the
// same trees, whatever the read size.
func FuzzParseTreeJSON(f *testing.F) {
	for _, doc := range parseFixtures(f) {
		if len(doc) < 4096 {
			f.Add(doc)
		}
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		requireSameParse(t, doc, Limits{MaxDepth: 20, MaxImportNodes: 500})
	})
}
