package server

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"
)

// Passwords. The SDKs never send a password in the clear: they fetch the
// pool's RSA public key from GET /api/v2/.well-known and send
// base64(RSA-PKCS#1-v1.5(password)) in createUser's userInfo.password. The
// JS SDK does exactly that; the Go SDK v0.3.1 encrypts with the hosted
// service's public key compiled into it (constant.PublicKey) unless the
// program calls SetPublicKey with the key this server publishes.
//
// orgtree keeps no credentials. createUser decrypts a password encrypted
// with this server's key (proving the client speaks the protocol), checks
// that it is valid UTF-8 text, and forgets it: it is never stored, answered
// or logged. A ciphertext the size of a block of the hosted service's
// 1024-bit key is what the Go SDK sends by default; orgtree cannot decrypt
// it and accepts it unread, so the Go SDK works unconfigured. Anything else
// (a plain-text password, a ciphertext for another key) is refused with
// code 400.
//
// PKCS#1 v1.5 decryption is what the SDKs require (their JSEncrypt and
// crypto/rsa calls use no other padding). Whether a ciphertext decrypts is
// visible in the answer, so a holder of a management token could use a
// server as a padding oracle against ciphertexts for its key; those only
// ever carry passwords that orgtree drops, and PasswordKey can be replaced
// at any time.

// minPasswordKeyBits is the smallest PasswordKey New accepts.
const minPasswordKeyBits = 2048

// serviceKeyBlockBytes is the ciphertext size of the hosted service's
// 1024-bit public key, which the Go SDK uses by default.
const serviceKeyBlockBytes = 1024 / 8

// passwordKeys is the key pair of password encryption.
type passwordKeys struct {
	key       *rsa.PrivateKey
	publicPEM string // PKIX "PUBLIC KEY" PEM, as /api/v2/.well-known answers it
}

func newPasswordKeys(key *rsa.PrivateKey) (passwordKeys, error) {
	if key == nil {
		var err error
		if key, err = rsa.GenerateKey(rand.Reader, minPasswordKeyBits); err != nil {
			return passwordKeys{}, fmt.Errorf("server: generating the password key: %w", err)
		}
	}
	if err := key.Validate(); err != nil {
		return passwordKeys{}, fmt.Errorf("server: PasswordKey: %w", err)
	}
	if bits := key.N.BitLen(); bits < minPasswordKeyBits {
		return passwordKeys{}, fmt.Errorf("server: PasswordKey has %d bits, want at least %d", bits, minPasswordKeyBits)
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return passwordKeys{}, fmt.Errorf("server: PasswordKey: %w", err)
	}
	block := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	return passwordKeys{key: key, publicPEM: strings.TrimSpace(string(block))}, nil
}

// checkPassword verifies an encrypted password as described above. Its
// errors never contain the password or the ciphertext.
func (k passwordKeys) checkPassword(encrypted string) error {
	ct, err := base64.StdEncoding.DecodeString(strings.TrimSpace(encrypted))
	if err != nil || len(ct) == 0 {
		return fmt.Errorf("%w: userInfo.password must be encrypted with the public key of GET /api/v2/.well-known (RSA PKCS#1 v1.5, base64), as the SDKs do", errBadRequest)
	}
	if len(ct) == k.key.Size() {
		//lint:ignore SA1019 the SDKs' padding (see above)
		plain, err := rsa.DecryptPKCS1v15(nil, k.key, ct)
		if err == nil {
			if len(plain) == 0 || !utf8.Valid(plain) {
				return fmt.Errorf("%w: userInfo.password decrypts to an empty or non-UTF-8 password", errBadRequest)
			}
			clear(plain)
			return nil
		}
	}
	if len(ct) == serviceKeyBlockBytes {
		return nil // the Go SDK's default key: accepted unread
	}
	return fmt.Errorf("%w: userInfo.password is not encrypted with this server's public key: fetch it from GET /api/v2/.well-known (the Go SDK: Client.SetPublicKey)", errBadRequest)
}

// wellKnown answers GET /api/v2/.well-known: the public key passwords are
// encrypted with. It needs no token: the key is public.
func (s *Server) wellKnown(w http.ResponseWriter, _ *http.Request) {
	writeREST(w, http.StatusOK, 200, "获取成功", map[string]any{"publicKey": s.passwords.publicPEM})
}
