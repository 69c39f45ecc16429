package server

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/Authing/authing-go-sdk/lib/constant"
	"github.com/Authing/authing-go-sdk/lib/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgtree/orgtree"
)

// wellKnownKey fetches the password key the way the JS SDK does.
func wellKnownKey(t *testing.T, ts *testServer) (*rsa.PublicKey, string) {
	t.Helper()
	status, body := ts.do(http.MethodGet, "/api/v2/.well-known", "", nil)
	require.Equal(t, http.StatusOK, status, string(body))
	var r struct {
		Code int
		Data struct{ PublicKey string }
	}
	require.NoError(t, json.Unmarshal(body, &r), string(body))
	require.Equal(t, 200, r.Code)
	block, rest := pem.Decode([]byte(r.Data.PublicKey))
	require.NotNil(t, block, r.Data.PublicKey)
	require.Empty(t, rest)
	require.Equal(t, "PUBLIC KEY", block.Type)
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	require.NoError(t, err)
	return pub.(*rsa.PublicKey), base64.StdEncoding.EncodeToString(block.Bytes)
}

func encryptPassword(t *testing.T, pub *rsa.PublicKey, password string) string {
	t.Helper()
	//lint:ignore SA1019 the SDKs' padding
	ct, err := rsa.EncryptPKCS1v15(rand.Reader, pub, []byte(password))
	require.NoError(t, err)
	return base64.StdEncoding.EncodeToString(ct)
}

const createUserDoc = `mutation createUser($userInfo: CreateUserInput!) { createUser(userInfo: $userInfo) { id username } }`

func TestCreateUserPassword(t *testing.T) {
	var logs bytes.Buffer
	tree := orgtree.New(orgtree.WithIDGenerator(NewObjectID))
	srv, err := New(tree, Config{UserPoolID: NewObjectID(), Secret: "s", PasswordKey: testPasswordKey(),
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	require.NoError(t, err)
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	ts := &testServer{t: t, tree: tree, srv: srv, http: hs, pool: srv.cfg.UserPoolID, secret: "s"}

	pub, _ := wellKnownKey(t, ts)
	require.True(t, pub.Equal(&testPasswordKey().PublicKey), "the configured key is published")

	const password = "correct horse battery staple"
	other1024, err := rsa.GenerateKey(rand.Reader, 1024)
	require.NoError(t, err)
	other2048, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	cases := []struct {
		name, password string
		ok             bool
		msg            string // in the refusal
	}{
		{"encrypted with the published key", encryptPassword(t, pub, password), true, ""},
		{"non-ASCII password", encryptPassword(t, pub, "密码 ünïcode"), true, ""},
		{"a 1024-bit block, as the Go SDK's built-in service key gives", encryptPassword(t, &other1024.PublicKey, password), true, ""},
		{"plain text", password, false, "/api/v2/.well-known"},
		{"another 2048-bit key", encryptPassword(t, &other2048.PublicKey, password), false, "not encrypted with this server's public key"},
		{"base64 of garbage", base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 256)), false, "/api/v2/.well-known"},
		{"decrypts to invalid UTF-8", encryptPassword(t, pub, "\xff\xfe"), false, "non-UTF-8"},
	}
	for i, c := range cases {
		username := "user" + string(rune('a'+i))
		r := ts.gql(createUserDoc, map[string]any{"userInfo": map[string]any{"username": username, "password": c.password}})
		assert.NotContains(t, r.raw, c.password, c.name)
		assert.NotContains(t, r.raw, password, c.name)
		if c.ok {
			require.Empty(t, r.Errors, "%s: %s", c.name, r.raw)
			id := r.Data["createUser"].(map[string]any)["id"].(string)
			u, err := tree.User(id)
			require.NoError(t, err, c.name)
			assert.Equal(t, username, u.Username)
			continue
		}
		require.Len(t, r.Errors, 1, "%s: %s", c.name, r.raw)
		assert.Equal(t, 400, r.Errors[0].Message.Code, c.name)
		assert.Contains(t, r.Errors[0].Message.Message, c.msg, c.name)
		assert.Equal(t, 0, countUsers(tree, username), "%s: refused, nothing created", c.name)
	}
	// No password at all is fine too.
	r := ts.gql(createUserDoc, map[string]any{"userInfo": map[string]any{"username": "nopassword"}})
	require.Empty(t, r.Errors, r.raw)
	for _, c := range cases {
		assert.NotContains(t, logs.String(), c.password, "a password reached the log")
	}
	assert.NotContains(t, logs.String(), password)
}

func countUsers(tree *orgtree.Tree, username string) int {
	n := 0
	for _, u := range tree.Snapshot().Dump().Users {
		if u.Username == username {
			n++
		}
	}
	return n
}

// The Go SDK encrypts with the service key it ships unless told the
// server's: both work, and with SetPublicKey the server really decrypts.
func TestGoSDKCreateUserWithPassword(t *testing.T) {
	ts := startServer(t)
	c := sdkClient(t, ts)
	builtIn := constant.PublicKey
	t.Cleanup(func() { c.SetPublicKey(builtIn) }) // the SDK keeps it in a global

	u, err := c.CreateUser(model.CreateUserRequest{UserInfo: model.CreateUserInput{Username: orgtree.Ptr("default-key"), Password: orgtree.Ptr("pw-1")}})
	require.NoError(t, err)
	require.NotEmpty(t, u.Id)

	_, der := wellKnownKey(t, ts)
	c.SetPublicKey(der)
	u, err = c.CreateUser(model.CreateUserRequest{UserInfo: model.CreateUserInput{Username: orgtree.Ptr("server-key"), Password: orgtree.Ptr("pw-2")}})
	require.NoError(t, err)
	require.NotEmpty(t, u.Id)

	// A key that is neither: refused (the SDK returns the envelope's error).
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	otherDER, err := x509.MarshalPKIXPublicKey(&other.PublicKey)
	require.NoError(t, err)
	c.SetPublicKey(base64.StdEncoding.EncodeToString(otherDER))
	_, err = c.CreateUser(model.CreateUserRequest{UserInfo: model.CreateUserInput{Username: orgtree.Ptr("wrong-key"), Password: orgtree.Ptr("pw-3")}})
	require.Error(t, err)
	assert.Equal(t, 0, countUsers(ts.tree, "wrong-key"))
}

func TestPasswordKeyConfig(t *testing.T) {
	tree := orgtree.New()
	a, err := New(tree, Config{UserPoolID: "p", Secret: "s"})
	require.NoError(t, err)
	b, err := New(tree, Config{UserPoolID: "p", Secret: "s"})
	require.NoError(t, err)
	require.NotNil(t, a.cfg.PasswordKey, "nil: generated at start")
	assert.False(t, a.cfg.PasswordKey.Equal(b.cfg.PasswordKey), "a fresh key per server without PasswordKey")
	assert.Equal(t, 2048, a.cfg.PasswordKey.N.BitLen())
	assert.True(t, strings.HasPrefix(a.passwords.publicPEM, "-----BEGIN PUBLIC KEY-----\n"))

	small, err := rsa.GenerateKey(rand.Reader, 1024)
	require.NoError(t, err)
	_, err = New(tree, Config{UserPoolID: "p", Secret: "s", PasswordKey: small})
	require.ErrorContains(t, err, "at least 2048")
	broken := *testPasswordKey()
	broken.D = big.NewInt(1)
	_, err = New(tree, Config{UserPoolID: "p", Secret: "s", PasswordKey: &broken})
	require.Error(t, err)
}
