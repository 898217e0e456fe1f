package stack_test

import (
	"context"
	"strings"
	"testing"

	"handoff/scripts/localstack/stack"
	"handoff/scripts/localstack/template"
)

func TestBuildReportsWhatFailed(t *testing.T) {
	tests := []struct{ yaml, want string }{
		{`
Resources:
  GoneFunction: {Type: AWS::Serverless::Function, Metadata: {SourceDir: testdata/gone}}
`, "building the functions"},
		{`
Resources:
  OneFunction: {Type: AWS::Serverless::Function, Metadata: {SourceDir: a/same}}
  TwoFunction: {Type: AWS::Serverless::Function, Metadata: {SourceDir: b/same}}
`, "same name"},
	}
	for _, tt := range tests {
		tmpl, err := template.Parse([]byte(tt.yaml), template.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := stack.Build(context.Background(), tmpl, t.TempDir()); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Build = %v, want an error about %q", err, tt.want)
		}
	}
}
