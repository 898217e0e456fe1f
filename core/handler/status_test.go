package handler_test

import (
	"encoding/json"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"handoff/core/handler"
	"handoff/core/handoff"
)

// wantStatus is the error table of docs/api.md ("Errors").
var wantStatus = map[handoff.Code]int{
	handoff.CodeInvalidRequest:       400,
	handoff.CodeTooLarge:             413,
	handoff.CodeUnsupportedTarget:    400,
	handoff.CodeUnknownTenant:        404,
	handoff.CodeNotFound:             404,
	handoff.CodeConversationNotFound: 404,
	handoff.CodeInProgress:           409,
	handoff.CodeConflict:             409,
	handoff.CodeIdempotencyKeyReused: 422,
	handoff.CodeTargetUnavailable:    409,
	handoff.CodeVendorRejected:       422,
	handoff.CodeVendorAuthFailed:     502,
	handoff.CodeVendorUnavailable:    503,
	handoff.CodeVendorTimeout:        504,
	handoff.CodeVendorProtocol:       502,
	handoff.CodeRateLimited:          429,
	handoff.CodeCancelled:            409,
	handoff.CodeUnauthorized:         401,
	handoff.CodeForbidden:            403,
	handoff.CodeConfiguration:        500,
	handoff.CodeUnavailable:          503,
	handoff.CodeInternal:             500,
}

// declaredCodes reads core/handoff/errors.go and returns every constant of type Code, by name,
// with its value.
func declaredCodes(t *testing.T) map[string]handoff.Code {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "../handoff/errors.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	codes := map[string]handoff.Code{}
	for _, decl := range f.Decls {
		gen, ok := decl.(*ast.GenDecl)
		if !ok || gen.Tok != token.CONST {
			continue
		}
		for _, spec := range gen.Specs {
			vs := spec.(*ast.ValueSpec)
			if id, ok := vs.Type.(*ast.Ident); !ok || id.Name != "Code" {
				continue
			}
			for i, name := range vs.Names {
				lit, ok := vs.Values[i].(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					t.Fatalf("%s: want a string literal", name.Name)
				}
				v, _ := strconv.Unquote(lit.Value)
				codes[name.Name] = handoff.Code(v)
			}
		}
	}
	if len(codes) == 0 {
		t.Fatal("no Code constants found in core/handoff/errors.go")
	}
	return codes
}

// tabledCodes reads respond.go and returns the names of the codes statusOf has a row for.
func tabledCodes(t *testing.T) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "respond.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	ast.Inspect(f, func(n ast.Node) bool {
		vs, ok := n.(*ast.ValueSpec)
		if !ok || len(vs.Names) != 1 || vs.Names[0].Name != "statusOf" {
			return true
		}
		for _, elt := range vs.Values[0].(*ast.CompositeLit).Elts {
			if sel, ok := elt.(*ast.KeyValueExpr).Key.(*ast.SelectorExpr); ok {
				names = append(names, sel.Sel.Name)
			}
		}
		return false
	})
	if len(names) == 0 {
		t.Fatal("no statusOf table found in respond.go")
	}
	return names
}

// Every code declared in errors.go has a row in the status table and the status expected of it:
// adding a code without a status fails here, even when the default 500 would happen to fit.
func TestStatusTableCoversEveryCode(t *testing.T) {
	declared := declaredCodes(t)
	tabled := tabledCodes(t)
	for name, code := range declared {
		if !slices.Contains(tabled, name) {
			t.Errorf("handoff.%s (%s) has no row in handler's status table", name, code)
		}
		want, ok := wantStatus[code]
		if !ok {
			t.Errorf("handoff.%s (%s) is new: add its status to wantStatus here", name, code)
			continue
		}
		if got := handler.HTTPStatus(code); got != want {
			t.Errorf("HTTPStatus(%s) = %d, want %d", code, got, want)
		}
	}
	for _, name := range tabled {
		if _, ok := declared[name]; !ok {
			t.Errorf("status table row for handoff.%s, which errors.go does not declare", name)
		}
	}
	if got := handler.HTTPStatus("SOMETHING_NEW"); got != 500 {
		t.Errorf("HTTPStatus(unknown) = %d, want 500", got)
	}
}

// getting answers GET /transfers/{id} with err, through the public handler.
func getting(t *testing.T, err error) (p problem, raw map[string]map[string]any, hdr map[string]string, status int) {
	t.Helper()
	svc := &fakeTransfers{get: func(string) (handoff.Transfer, error) { return handoff.Transfer{}, err }}
	resp := call(t, handler.NewTransfer(svc, allowAll{}, quiet, ""), httpReq("GET", "GET /transfers/{id}", "/transfers/t1", ""))
	if e := json.Unmarshal([]byte(resp.Body), &raw); e != nil {
		t.Fatalf("body %q: %v", resp.Body, e)
	}
	_ = json.Unmarshal([]byte(resp.Body), &p)
	if ct := resp.Headers["Content-Type"]; ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	return p, raw, resp.Headers, resp.StatusCode
}

func TestErrorShape(t *testing.T) {
	err := &handoff.Error{Code: handoff.CodeVendorRejected, Op: "bitrix24.Transfer", Message: "the vendor refused the transfer",
		Field: "target.id", VendorCode: "OPERATOR_WRONG", Err: errors.New("imopenlines: OPERATOR_WRONG")}
	p, raw, _, status := getting(t, err)
	if status != 422 {
		t.Errorf("status %d, want 422", status)
	}
	if len(raw) != 1 || raw["error"] == nil {
		t.Fatalf("body %v: want exactly {\"error\": {…}}", raw)
	}
	var keys []string
	for k := range raw["error"] {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if want := []string{"code", "field", "message", "vendorCode"}; !slices.Equal(keys, want) {
		t.Errorf("error keys %v, want %v", keys, want)
	}
	if p.Error.Code != handoff.CodeVendorRejected || p.Error.Message != "the vendor refused the transfer" ||
		p.Error.Field != "target.id" || p.Error.VendorCode != "OPERATOR_WRONG" {
		t.Errorf("error %+v", p.Error)
	}
	if strings.Contains(string(mustJSON(t, raw)), "imopenlines") || strings.Contains(string(mustJSON(t, raw)), "bitrix24.Transfer") {
		t.Errorf("the cause or the operation reached the caller: %v", raw)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestInternalHidesMessage(t *testing.T) {
	for _, err := range []error{
		errors.New("dynamodb: secret=hunter2 table handoff"),
		&handoff.Error{Code: handoff.CodeInternal, Message: "hunter2 in a message", Err: errors.New("hunter2")},
	} {
		p, raw, _, status := getting(t, err)
		if status != 500 || p.Error.Code != handoff.CodeInternal {
			t.Errorf("%v: answer %d %s, want 500 INTERNAL", err, status, p.Error.Code)
		}
		if p.Error.Message == "" || strings.Contains(string(mustJSON(t, raw)), "hunter2") {
			t.Errorf("%v: body %v shows internals", err, raw)
		}
	}
	// A cause under a 5xx of ours never shows either; our own safe message does.
	err := handoff.E(handoff.CodeVendorUnavailable, "koreai.Transfer", "the vendor could not be reached", errors.New("dial tcp 10.1.2.3:443: hunter2"))
	p, raw, _, status := getting(t, err)
	if status != 503 || p.Error.Message != "the vendor could not be reached" || strings.Contains(string(mustJSON(t, raw)), "hunter2") {
		t.Errorf("answer %d %v", status, raw)
	}
}

func TestEmptyMessageGetsStatusText(t *testing.T) {
	p, _, _, status := getting(t, &handoff.Error{Code: handoff.CodeNotFound})
	if status != 404 || p.Error.Message != http.StatusText(404) {
		t.Errorf("answer %d %+v", status, p.Error)
	}
}

func TestRetryAfterHeader(t *testing.T) {
	cases := []struct {
		wait time.Duration
		want string
	}{
		{0, ""},
		{time.Second, "1"},
		{1500 * time.Millisecond, "2"},
		{time.Millisecond, "1"},
		{30 * time.Second, "30"},
	}
	for _, tc := range cases {
		_, _, hdr, status := getting(t, &handoff.Error{Code: handoff.CodeRateLimited, Message: "slow down", RetryAfter: tc.wait})
		if status != 429 {
			t.Errorf("status %d", status)
		}
		got, ok := hdr["Retry-After"]
		if got != tc.want || ok != (tc.want != "") {
			t.Errorf("RetryAfter %v: header %q (present %v), want %q", tc.wait, got, ok, tc.want)
		}
	}
}
