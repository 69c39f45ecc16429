package orgtree

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// reservedCodePrefix starts codes the reference service keeps for itself.
const reservedCodePrefix = "sys:"

func checkID(id string) error {
	switch {
	case id == "":
		return fmt.Errorf("empty id: %w", ErrInvalidArgument)
	case len(id) > maxIDLength:
		return fmt.Errorf("id longer than %d bytes: %w", maxIDLength, ErrInvalidArgument)
	case !utf8.ValidString(id):
		return fmt.Errorf("id is not valid UTF-8: %w", ErrInvalidArgument)
	}
	ascii := true
	for i := 0; i < len(id); i++ {
		c := id[i]
		if c <= ' ' || c == 0x7f {
			return fmt.Errorf("id contains a space or control character: %w", ErrInvalidArgument)
		}
		ascii = ascii && c < utf8.RuneSelf
	}
	if ascii {
		return nil
	}
	for _, r := range id {
		if unicode.IsControl(r) || unicode.IsSpace(r) {
			return fmt.Errorf("id contains a space or control character: %w", ErrInvalidArgument)
		}
	}
	return nil
}

// cleanName trims a name and checks it: 1..max runes, valid UTF-8, no
// control characters.
func cleanName(name string, max int) (string, error) {
	if !utf8.ValidString(name) {
		return "", fmt.Errorf("name is not valid UTF-8: %w", ErrInvalidName)
	}
	name = strings.TrimSpace(name)
	if name == "" {
		return "", fmt.Errorf("name is empty: %w", ErrInvalidName)
	}
	if n := utf8.RuneCountInString(name); n > max {
		return "", fmt.Errorf("name has %d runes, more than %d: %w", n, max, ErrInvalidName)
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return "", fmt.Errorf("name contains control character %U: %w", r, ErrInvalidName)
		}
	}
	return name, nil
}

func checkCode(code string) error {
	if !utf8.ValidString(code) {
		return fmt.Errorf("code is not valid UTF-8: %w", ErrInvalidCode)
	}
	if n := utf8.RuneCountInString(code); n > maxCodeLength {
		return fmt.Errorf("code has %d runes, more than %d: %w", n, maxCodeLength, ErrInvalidCode)
	}
	if len(code) >= len(reservedCodePrefix) && strings.EqualFold(code[:len(reservedCodePrefix)], reservedCodePrefix) {
		return fmt.Errorf("code %q uses the reserved prefix %q: %w", code, reservedCodePrefix, ErrInvalidCode)
	}
	for _, r := range code {
		if unicode.IsControl(r) || unicode.IsSpace(r) {
			return fmt.Errorf("code contains a space or control character: %w", ErrInvalidCode)
		}
	}
	return nil
}

// checkText checks free text (descriptions, user fields): valid UTF-8, at
// most max runes, no control characters other than tab and newline.
func checkText(what, s string, max int) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("%s is not valid UTF-8: %w", what, ErrInvalidArgument)
	}
	if n := utf8.RuneCountInString(s); n > max {
		return fmt.Errorf("%s has %d runes, more than %d: %w", what, n, max, ErrLimitExceeded)
	}
	for _, r := range s {
		if unicode.IsControl(r) && r != '\n' && r != '\t' && r != '\r' {
			return fmt.Errorf("%s contains control character %U: %w", what, r, ErrInvalidArgument)
		}
	}
	return nil
}

// checkI18n checks a locale → text map; values are names when isName.
func checkI18n(what string, m map[string]string, isName bool, lim Limits) (map[string]string, error) {
	if len(m) == 0 {
		return nil, nil
	}
	if len(m) > maxI18nEntries {
		return nil, fmt.Errorf("%s has %d locales, more than %d: %w", what, len(m), maxI18nEntries, ErrLimitExceeded)
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		if k == "" || len(k) > 35 || checkID(k) != nil {
			return nil, fmt.Errorf("%s: bad locale key %q: %w", what, k, ErrInvalidArgument)
		}
		if isName {
			clean, err := cleanName(v, lim.MaxNameLength)
			if err != nil {
				return nil, fmt.Errorf("%s[%s]: %w", what, k, err)
			}
			v = clean
		} else if err := checkText(what+"["+k+"]", v, lim.MaxDescriptionLength); err != nil {
			return nil, err
		}
		out[k] = v
	}
	return out, nil
}

// checkRef checks an optional reference string (external id, leader id).
func checkRef(what, s string) error {
	if s == "" {
		return nil
	}
	if err := checkID(s); err != nil && len(s) <= maxIDLength {
		return fmt.Errorf("%s: %w", what, err)
	}
	if len(s) > maxIDLength {
		return fmt.Errorf("%s longer than %d bytes: %w", what, maxIDLength, ErrInvalidArgument)
	}
	return nil
}

func cloneI18n(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
