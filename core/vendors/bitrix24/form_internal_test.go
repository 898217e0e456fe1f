package bitrix24

import (
	"net/url"
	"reflect"
	"sort"
	"strings"
	"testing"
)

func TestParseForm(t *testing.T) {
	tests := []struct {
		name string
		body string
		want form
	}{
		{"flat", "event=ONIMBOTMESSAGEADD&ts=1771940028", form{"event": "ONIMBOTMESSAGEADD", "ts": "1771940028"}},
		{"nested", "data%5BPARAMS%5D%5BCHAT_ID%5D=112&data%5BPARAMS%5D%5BDIALOG_ID%5D=chat112",
			form{"data": form{"PARAMS": form{"CHAT_ID": "112", "DIALOG_ID": "chat112"}}}},
		{"literal brackets", "auth[application_token]=abc", form{"auth": form{"application_token": "abc"}}},
		{"bot id as key", "data[BOT][567][AUTH][access_token]=t", form{"data": form{"BOT": form{"567": form{"AUTH": form{"access_token": "t"}}}}}},
		{"plus and percent", "MESSAGE=Hello+world%21+%26+more", form{"MESSAGE": "Hello world! & more"}},
		{"append", "list[]=a&list[]=b&list[5]=c&list[]=d", form{"list": form{"0": "a", "1": "b", "5": "c", "6": "d"}}},
		{"later wins", "a=1&a=2", form{"a": "2"}},
		{"array replaces string", "a=1&a[b]=2", form{"a": form{"b": "2"}}},
		{"string replaces array", "a[b]=2&a=1", form{"a": "1"}},
		{"no value", "flag&empty=", form{"flag": "", "empty": ""}},
		{"empty pairs", "&&a=1&&", form{"a": "1"}},
		{"no name is dropped", "=x&[a]=y&[[=z&b=1", form{"b": "1"}},
		{"second unmatched bracket stays", "a[[=1", form{"a_[": "1"}},
		{"unmatched bracket becomes underscore", "a[b=1", form{"a_b": "1"}},
		{"text after brackets is ignored", "a[b]c[d]=1", form{"a": form{"b": "1"}}},
		{"bracket inside a segment", "a[b[c]]=1", form{"a": form{"b[c": "1"}}},
		{"unterminated later segment", "a[b][c=1", form{"a": form{"b": "1"}}},
		{"empty value in nested", "data[chat][entityType]=", form{"data": form{"chat": form{"entityType": ""}}}},
		{"equals in value", "x=a=b", form{"x": "a=b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseForm(tt.body)
			if err != nil {
				t.Fatalf("parseForm: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("parseForm(%q) = %#v, want %#v", tt.body, got, tt.want)
			}
		})
	}
}

func TestParseFormBounds(t *testing.T) {
	tests := []struct {
		name string
		body string
	}{
		{"too deep", "a" + strings.Repeat("[x]", maxFormDepth+1) + "=1"},
		{"too many pairs", strings.Repeat("a=1&", maxFormPairs+1)},
		{"key too long", strings.Repeat("k", maxFormKeyBytes+1) + "=1"},
		{"bad key escape", "a%zz=1"},
		{"bad value escape", "a=%g0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, err := parseForm(tt.body); err == nil {
				t.Fatalf("parseForm accepted it: %#v", got)
			}
		})
	}
	if _, err := parseForm("a" + strings.Repeat("[x]", maxFormDepth) + "=1"); err != nil {
		t.Errorf("the deepest allowed key was refused: %v", err)
	}
}

func TestFormLookups(t *testing.T) {
	f, err := parseForm("data[chat][id]=112&data[DATA][0][chat][id]=5&event=X")
	if err != nil {
		t.Fatal(err)
	}
	if s, ok := f.str("data", "chat", "id"); !ok || s != "112" {
		t.Errorf("str(data, chat, id) = %q, %v", s, ok)
	}
	if s, ok := f.str("data", "DATA", "0", "chat", "id"); !ok || s != "5" {
		t.Errorf("str(data, DATA, 0, chat, id) = %q, %v", s, ok)
	}
	for _, path := range [][]string{{"data", "chat"}, {"event", "x"}, {"missing"}, {"data", "missing", "id"}} {
		if s, ok := f.str(path...); ok {
			t.Errorf("str(%v) = %q, want nothing", path, s)
		}
	}
}

// FuzzParseForm: any body parses or fails cleanly, within the bounds, and what it parses to
// encodes back (as http_build_query would) to a body that parses to the same thing, except for
// a top-level name holding "[" (left by PHP's unmatched-bracket rule), which no body can encode.
func FuzzParseForm(f *testing.F) {
	for _, seed := range []string{
		"event=ONIMBOTMESSAGEADD&data%5BBOT%5D%5B567%5D%5BBOT_ID%5D=567&auth%5Bapplication_token%5D=x",
		"a[]=1&a[]=2&a[b][]=3", "a[b=1", "a[b]c[d]=1", "=x&&y", "a[b[c]]=%5D", "x=%zz",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		got, err := parseForm(body)
		if err != nil {
			return
		}
		leaves := 0
		walk(t, got, 0, &leaves)
		if pairs := strings.Count(body, "&") + 1; leaves > pairs {
			t.Fatalf("%d values from at most %d pairs", leaves, pairs)
		}
		for k := range got {
			if strings.Contains(k, "[") {
				// "a[[" is "a_[" for PHP too, which reads back as "a__": no body encodes it.
				return
			}
		}
		again, err := parseForm(encode(got))
		if err != nil {
			t.Fatalf("re-encoded form does not parse: %v", err)
		}
		if !reflect.DeepEqual(got, again) {
			t.Fatalf("round trip changed the form:\n%#v\n%#v", got, again)
		}
	})
}

func walk(t *testing.T, f form, depth int, leaves *int) {
	if depth > maxFormDepth+1 {
		t.Fatalf("nested %d levels deep", depth)
	}
	for k, v := range f {
		switch v := v.(type) {
		case string:
			*leaves++
		case form:
			if len(v) == 0 {
				t.Fatalf("empty nested form under %q", k)
			}
			walk(t, v, depth+1, leaves)
		default:
			t.Fatalf("value of type %T under %q", v, k)
		}
	}
}

// encode is http_build_query: nested keys in brackets, every part percent-encoded.
func encode(f form) string {
	var pairs []string
	var add func(prefix string, f form)
	add = func(prefix string, f form) {
		keys := make([]string, 0, len(f))
		for k := range f {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			name := k
			if prefix != "" {
				name = prefix + "[" + k + "]"
			}
			switch v := f[k].(type) {
			case string:
				pairs = append(pairs, url.QueryEscape(name)+"="+url.QueryEscape(v))
			case form:
				add(name, v)
			}
		}
	}
	add("", f)
	return strings.Join(pairs, "&")
}
