package infra_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"handoff/core/handler"
	"handoff/core/handoff"
	"handoff/core/vendors/bitrix24"
	"handoff/core/vendors/koreai"
	"handoff/core/vendors/liveperson"
	"handoff/core/vendors/salesforce"
	"handoff/core/vendors/webhook"
)

// apiDoc is the API contract users read.
var apiDoc = filepath.Join(repoDir, "docs", "api.md")

// tableRow matches a Markdown table row whose first cell is one code-formatted name, and
// captures the name and the rest of the row.
var tableRow = regexp.MustCompile("(?m)^\\| `([A-Za-z0-9_]+)` \\|(.*)\\|\\s*$")

// TestAPIDocListsEveryErrorCode holds docs/api.md's error table to the code: every error code
// core/handoff defines is listed, with the HTTP status core/handler answers it with.
func TestAPIDocListsEveryErrorCode(t *testing.T) {
	documented := map[string]string{} // code → its status cell
	for _, m := range tableRow.FindAllStringSubmatch(section(t, apiDoc, "## Errors"), -1) {
		status, _, _ := strings.Cut(m[2], "|")
		documented[m[1]] = strings.TrimSpace(status)
	}
	codes := errorCodes(t)
	if len(codes) < 10 {
		t.Fatalf("found only %d error codes in core/handoff", len(codes))
	}
	for _, code := range codes {
		cell, ok := documented[code]
		if !ok {
			t.Errorf("docs/api.md's error table does not list %s", code)
			continue
		}
		if cell == "—" {
			continue // documented as never an HTTP answer (CANCELLED lives on a transfer's error)
		}
		if want := strconv.Itoa(handler.HTTPStatus(handoff.Code(code))); cell != want {
			t.Errorf("docs/api.md says %s is %q; core/handler answers %s", code, cell, want)
		}
	}
}

// TestAPIDocListsEverySecretField holds docs/api.md's credentials table to the code: every
// field a vendor's Credentials reads from the tenant's secret is named in that vendor's row.
func TestAPIDocListsEverySecretField(t *testing.T) {
	rows := map[string]string{}
	for _, m := range tableRow.FindAllStringSubmatch(section(t, apiDoc, "## Credentials"), -1) {
		rows[m[1]] = m[2]
	}
	for vendor, creds := range map[string]any{
		"bitrix24":   bitrix24.Credentials{},
		"liveperson": liveperson.Credentials{},
		"koreai":     koreai.Credentials{},
		"salesforce": salesforce.Credentials{},
		"webhook":    webhook.Credentials{},
	} {
		row, ok := rows[vendor]
		if !ok {
			t.Errorf("docs/api.md's credentials table has no row for %s", vendor)
			continue
		}
		typ := reflect.TypeOf(creds)
		for i := range typ.NumField() {
			name, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
			if name == "" || name == "-" {
				continue
			}
			if !strings.Contains(row, "`"+name+"`") {
				t.Errorf("docs/api.md's credentials row for %s does not name %s", vendor, name)
			}
		}
	}
}

// section returns the text of a Markdown file from the heading to the next heading of its level.
func section(t *testing.T, file, heading string) string {
	t.Helper()
	body, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	text := string(body)
	start := strings.Index(text, "\n"+heading+"\n")
	if start < 0 {
		t.Fatalf("%s has no %q section", file, heading)
	}
	text = text[start+1+len(heading):]
	level := heading[:strings.IndexByte(heading, ' ')+1]
	if end := strings.Index(text, "\n"+level); end >= 0 {
		text = text[:end]
	}
	return text
}

// errorCodes returns the values of every constant of type Code that core/handoff declares.
func errorCodes(t *testing.T) []string {
	t.Helper()
	dir := filepath.Join(repoDir, "core", "handoff")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var codes []string
	fset := token.NewFileSet()
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, e.Name()), nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range f.Decls {
			gen, ok := decl.(*ast.GenDecl)
			if !ok || gen.Tok != token.CONST {
				continue
			}
			for _, spec := range gen.Specs {
				v := spec.(*ast.ValueSpec)
				if id, ok := v.Type.(*ast.Ident); !ok || id.Name != "Code" {
					continue
				}
				for _, value := range v.Values {
					if lit, ok := value.(*ast.BasicLit); ok && lit.Kind == token.STRING {
						s, _ := strconv.Unquote(lit.Value)
						codes = append(codes, s)
					}
				}
			}
		}
	}
	return codes
}
