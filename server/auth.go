package server

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Tokens are HS256 JWTs whose key is derived from the user pool's secret,
// as the hosted service signs its management tokens with the pool secret. A
// token therefore survives a restart of the server (and stays valid against
// another server with the same credentials): the Go SDK caches tokens per
// user pool id in a process-wide cache for up to TokenTTL minus three days.

// tokenClaims are the claims of an issued token.
type tokenClaims struct {
	Data tokenData `json:"data"`
	jwt.RegisteredClaims
}

type tokenData struct {
	Type       string `json:"type"`
	ID         string `json:"id"`
	UserPoolID string `json:"userPoolId"`
}

const tokenIssuer = "orgtree"

func signingKey(poolID, secret string) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("orgtree management token\x00" + poolID))
	return m.Sum(nil)
}

// IssueToken exchanges the pool's credentials for a signed access token, as
// the accessToken query does. It fails with ErrUnauthorized on a wrong pool
// id or secret.
func (s *Server) IssueToken(poolID, secret string) (token string, issuedAt, expiresAt time.Time, err error) {
	okPool := subtle.ConstantTimeCompare([]byte(poolID), []byte(s.cfg.UserPoolID)) == 1
	okSecret := subtle.ConstantTimeCompare([]byte(secret), []byte(s.cfg.Secret)) == 1
	if !okPool || !okSecret {
		return "", time.Time{}, time.Time{}, fmt.Errorf("%w: wrong user pool id or secret", ErrUnauthorized)
	}
	now := s.cfg.Now().Truncate(time.Second)
	exp := now.Add(s.cfg.TokenTTL)
	claims := tokenClaims{
		Data: tokenData{Type: "userPool", ID: poolID, UserPoolID: poolID},
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    tokenIssuer,
			Subject:   poolID,
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(exp),
		},
	}
	token, err = jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(s.key)
	if err != nil {
		return "", time.Time{}, time.Time{}, fmt.Errorf("%w: signing token: %v", errInternal, err)
	}
	return token, now, exp, nil
}

// authenticate checks the bearer token and the user pool header of a
// request.
func (s *Server) authenticate(req *http.Request) error {
	if pool := req.Header.Get("x-authing-userpool-id"); pool != s.cfg.UserPoolID {
		return fmt.Errorf("%w: header x-authing-userpool-id must name this user pool", ErrUnauthorized)
	}
	auth := req.Header.Get("Authorization")
	raw, ok := strings.CutPrefix(auth, "Bearer ")
	if !ok || strings.TrimSpace(raw) == "" {
		return fmt.Errorf("%w: no bearer token: exchange the user pool secret for one with the accessToken query", ErrUnauthorized)
	}
	var claims tokenClaims
	_, err := jwt.ParseWithClaims(strings.TrimSpace(raw), &claims, func(*jwt.Token) (any, error) { return s.key, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithIssuer(tokenIssuer),
		jwt.WithSubject(s.cfg.UserPoolID),
		jwt.WithTimeFunc(s.cfg.Now),
	)
	if err != nil {
		return fmt.Errorf("%w: invalid token: %v", ErrUnauthorized, err)
	}
	return nil
}
