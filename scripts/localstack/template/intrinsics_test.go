package template_test

import (
	"reflect"
	"strings"
	"testing"

	"handoff/scripts/localstack/template"
)

// env parses a template with one function whose Environment.Variables is vars (YAML, indented
// by eight spaces) and returns the function's environment.
func env(t *testing.T, vars string) (map[string]string, error) {
	t.Helper()
	text := `
Parameters:
  Name: {Type: String, Default: world}
  Names: {Type: CommaDelimitedList, Default: "a, b,c"}
Conditions:
  IsWorld: {"Fn::Equals": [{"Ref": Name}, world]}
  Both: !And [!Condition IsWorld, {Condition: IsWorld}]
  Either: !Or [!Not [!Condition IsWorld], !Equals [x, x]]
Resources:
  Queue: {Type: AWS::SQS::Queue, Properties: {QueueName: q1}}
  OneFunction:
    Type: AWS::Serverless::Function
    Properties:
      Environment:
        Variables:
` + vars
	tmpl, err := template.Parse([]byte(text), template.Options{})
	if err != nil {
		return nil, err
	}
	return tmpl.Functions[0].Environment, nil
}

func TestIntrinsics(t *testing.T) {
	tests := []struct{ name, yaml, want string }{
		{"plain", `plain`, "plain"},
		{"number becomes text", `42`, "42"},
		{"boolean becomes text", `true`, "true"},
		{"short Ref", `!Ref Name`, "world"},
		{"long Ref", `{Ref: Name}`, "world"},
		{"Ref of a resource", `!Ref Queue`, "q1"},
		{"Ref of a pseudo parameter", `!Ref AWS::AccountId`, "123456789012"},
		{"short Sub", `!Sub "hello ${Name}"`, "hello world"},
		{"long Sub with variables", `{"Fn::Sub": ["${Greeting} ${Name}", {Greeting: hi}]}`, "hi world"},
		{"Sub with an attribute", `!Sub "${Queue.Arn}"`, "arn:aws:sqs:us-east-1:123456789012:q1"},
		{"Sub literal", `!Sub "${!Name}"`, "${Name}"},
		{"GetAtt short", `!GetAtt Queue.Arn`, "arn:aws:sqs:us-east-1:123456789012:q1"},
		{"GetAtt list", `{"Fn::GetAtt": [Queue, QueueName]}`, "q1"},
		{"If true", `!If [IsWorld, yes, no]`, "yes"},
		{"If nested conditions", `!If [Both, yes, no]`, "yes"},
		{"If Or", `!If [Either, yes, no]`, "yes"},
		{"Join", `!Join ["-", [a, !Ref Name]]`, "a-world"},
		{"Join a list parameter", `!Join ["+", !Ref Names]`, "a+b+c"},
		{"Select of Split", `!Select [1, !Split [",", "x,y,z"]]`, "y"},
		{"Base64", `!Base64 hi`, "aGk="},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := env(t, "          V: "+tt.yaml+"\n")
			if err != nil {
				t.Fatal(err)
			}
			if got["V"] != tt.want {
				t.Errorf("%s = %q, want %q", tt.yaml, got["V"], tt.want)
			}
		})
	}
}

func TestNoValueDropsTheVariable(t *testing.T) {
	got, err := env(t, "          A: !If [IsWorld, !Ref AWS::NoValue, x]\n          B: b\n")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, map[string]string{"B": "b"}) {
		t.Errorf("env = %v", got)
	}
}

func TestIntrinsicErrorsNameTheProblem(t *testing.T) {
	tests := []struct{ yaml, want string }{
		{`!Ref Missing`, "Ref Missing"},
		{`!GetAtt Queue.Nope`, "Queue.Nope"},
		{`!If [NoSuchCondition, a, b]`, "NoSuchCondition"},
		{`!ImportValue other-stack`, "ImportValue"},
		{`!Sub "${Missing}"`, "Missing"},
	}
	for _, tt := range tests {
		_, err := env(t, "          V: "+tt.yaml+"\n")
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "OneFunction") {
			t.Errorf("%s: error = %v, want one naming %q and the function", tt.yaml, err, tt.want)
		}
	}
}

func TestParseRejectsWhatIsNotATemplate(t *testing.T) {
	for _, text := range []string{"", "- a list", "Resources: [", "Resources:\n  F:\n    Type: AWS::Serverless::Function\n    Properties:\n      Timeout: soon\n"} {
		if _, err := template.Parse([]byte(text), template.Options{}); err == nil {
			t.Errorf("Parse(%q) succeeded", text)
		}
	}
}

func TestRouteAddedToTheTemplateIsRead(t *testing.T) {
	text := `
Resources:
  PingFunction:
    Type: AWS::Serverless::Function
    Properties:
      Events:
        Ping: {Type: HttpApi, Properties: {Method: get, Path: "/ping/{proxy+}"}}
        Everything: {Type: HttpApi}
`
	tmpl, err := template.Parse([]byte(text), template.Options{})
	if err != nil {
		t.Fatal(err)
	}
	f := tmpl.Functions[0]
	if f.Name != "ping" || f.SourceDir != "functions/ping" || f.Timeout.Seconds() != 3 || f.MemorySize != 128 {
		t.Errorf("function = %+v", f)
	}
	var keys []string
	for _, r := range f.Routes {
		keys = append(keys, r.Key())
	}
	if !reflect.DeepEqual(keys, []string{"$default", "GET /ping/{proxy+}"}) {
		t.Errorf("route keys = %v", keys)
	}
}
