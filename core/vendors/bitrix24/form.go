package bitrix24

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// Limits on an event body. Bitrix24's events nest four levels deep (data[BOT][567][AUTH][x]) and
// carry about a hundred fields; these bound what a forged body can make us allocate.
const (
	maxFormPairs    = 1000 // PHP's own max_input_vars default
	maxFormDepth    = 8    // bracket segments after the base name
	maxFormKeyBytes = 512
)

var errFormTooDeep = errors.New("a key nests deeper than allowed")

// form is a decoded PHP-style form: each value is a string or a nested form.
type form map[string]any

// parseForm decodes an application/x-www-form-urlencoded body whose keys use PHP's bracket
// syntax (http_build_query: data[PARAMS][CHAT_ID]=112, list[]=a) into nested maps, the way PHP
// fills $_POST: a later pair wins over an earlier one for the same key, "[]" appends (the next
// integer key), and the first unmatched "[" of a key becomes "_". PHP's other key mangling
// ("." and " " in the base name become "_") is not reproduced: Bitrix24's keys never hold them.
func parseForm(body string) (form, error) {
	root := form{}
	pairs := 0
	for body != "" {
		var pair string
		pair, body, _ = strings.Cut(body, "&")
		if pair == "" {
			continue
		}
		if pairs++; pairs > maxFormPairs {
			return nil, fmt.Errorf("more than %d fields", maxFormPairs)
		}
		rawKey, rawValue, _ := strings.Cut(pair, "=")
		key, err := url.QueryUnescape(rawKey)
		if err != nil {
			return nil, errors.New("a key is not valid percent-encoding")
		}
		value, err := url.QueryUnescape(rawValue)
		if err != nil {
			return nil, errors.New("a value is not valid percent-encoding")
		}
		if len(key) > maxFormKeyBytes {
			return nil, fmt.Errorf("a key is longer than %d bytes", maxFormKeyBytes)
		}
		path, err := keyPath(key)
		if err != nil {
			return nil, err
		}
		if path[0] == "" {
			continue // PHP drops pairs without a name
		}
		root.set(path, value)
	}
	return root, nil
}

// keyPath splits "a[b][]" into ["a", "b", ""].
func keyPath(key string) ([]string, error) {
	open := strings.IndexByte(key, '[')
	if open < 0 {
		return []string{key}, nil
	}
	if open == 0 {
		return []string{""}, nil // no name before the bracket: PHP drops the pair
	}
	if !strings.Contains(key[open:], "]") {
		return []string{key[:open] + "_" + key[open+1:]}, nil
	}
	path := []string{key[:open]}
	rest := key[open:]
	for strings.HasPrefix(rest, "[") {
		end := strings.IndexByte(rest, ']')
		if end < 0 {
			break // PHP ignores an unterminated segment after the first
		}
		if len(path) > maxFormDepth {
			return nil, errFormTooDeep
		}
		path = append(path, rest[1:end])
		rest = rest[end+1:]
	}
	return path, nil
}

func (f form) set(path []string, value string) {
	node := f
	for i, seg := range path {
		if seg == "" {
			seg = node.nextIndex()
		}
		if i == len(path)-1 {
			node[seg] = value
			return
		}
		child, ok := node[seg].(form)
		if !ok {
			child = form{}
			node[seg] = child
		}
		node = child
	}
}

// nextIndex is the key "[]" appends under: one more than the largest integer key, as in PHP.
func (f form) nextIndex() string {
	next := 0
	for k := range f {
		if n, err := strconv.Atoi(k); err == nil && n >= next && strconv.Itoa(n) == k {
			next = n + 1
		}
	}
	return strconv.Itoa(next)
}

// str returns the string at path, if there is one.
func (f form) str(path ...string) (string, bool) {
	node, last := f.parent(path)
	if node == nil {
		return "", false
	}
	s, ok := node[last].(string)
	return s, ok
}

func (f form) parent(path []string) (form, string) {
	node := f
	for _, seg := range path[:len(path)-1] {
		child, ok := node[seg].(form)
		if !ok {
			return nil, ""
		}
		node = child
	}
	return node, path[len(path)-1]
}
