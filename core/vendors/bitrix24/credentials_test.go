package bitrix24_test

import (
	"fmt"
	"strings"
	"testing"

	"handoff/core/handoff"
	"handoff/core/vendors"
	"handoff/core/vendors/bitrix24"
)

func TestCredentials(t *testing.T) {
	const (
		hook   = `"webhookUrl":"https://acme.bitrix24.com/rest/1/s3cr3tc0de9/","botClientId":"b0tcl1ent77"`
		oauth  = `"portalUrl":"https://acme.bitrix24.com/rest/","accessToken":"acc3sst0ken1","refreshToken":"r3freshtok3n","appClientId":"local.1","appClientSecret":"cl1ents3cret"`
		values = "s3cr3tc0de9 b0tcl1ent77 acc3sst0ken1 r3freshtok3n cl1ents3cret"
	)
	tests := []struct {
		name  string
		json  string
		field string // "" = valid
	}{
		{"webhook", `{` + hook + `}`, ""},
		{"webhook without trailing slash", `{"webhookUrl":"https://acme.bitrix24.com/rest/1/s3cr3tc0de9","botClientId":"b0tcl1ent77"}`, ""},
		{"oauth", `{` + oauth + `}`, ""},
		{"oauth on loopback", `{` + strings.ReplaceAll(oauth, "https://acme.bitrix24.com", "http://127.0.0.1:8080") + `}`, ""},
		{"neither", `{"applicationToken":"x"}`, "webhookUrl"},
		{"both", `{` + hook + `,` + oauth + `}`, "webhookUrl"},
		{"webhook without bot", `{"webhookUrl":"https://acme.bitrix24.com/rest/1/s3cr3tc0de9/"}`, "botClientId"},
		{"webhook over http", `{` + strings.Replace(hook, "https", "http", 1) + `}`, "webhookUrl"},
		{"webhook of another shape", `{"webhookUrl":"https://acme.bitrix24.com/rest/s3cr3tc0de9/","botClientId":"b0tcl1ent77"}`, "webhookUrl"},
		{"webhook with a method", `{"webhookUrl":"https://acme.bitrix24.com/rest/1/s3cr3tc0de9/profile/","botClientId":"b0tcl1ent77"}`, "webhookUrl"},
		{"webhook with user info", `{"webhookUrl":"https://u:s3cr3tc0de9@acme.bitrix24.com/rest/1/x/","botClientId":"b0tcl1ent77"}`, "webhookUrl"},
		{"oauth without refresh token", `{` + strings.Replace(oauth, `"refreshToken":"r3freshtok3n",`, "", 1) + `}`, "refreshToken"},
		{"oauth without secret", `{` + strings.Replace(oauth, `,"appClientSecret":"cl1ents3cret"`, "", 1) + `}`, "appClientSecret"},
		{"portal not the REST prefix", `{` + strings.Replace(oauth, "/rest/", "/", 1) + `}`, "portalUrl"},
		{"oauth server over http", `{` + oauth + `,"oauthUrl":"http://oauth.example.com/oauth/token/"}`, "oauthUrl"},
		{"wrong type", `{"webhookUrl":1}`, "webhookUrl"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c bitrix24.Credentials
			err := vendors.DecodeCredentials("acme/bitrix24", []byte(tt.json), &c)
			if tt.field == "" {
				if err != nil {
					t.Fatalf("valid credentials refused: %v", err)
				}
				return
			}
			var e *handoff.Error
			if err == nil || !asHandoff(err, &e) || e.Code != handoff.CodeConfiguration || e.Field != tt.field {
				t.Fatalf("err = %v, want CONFIGURATION on field %s", err, tt.field)
			}
			for _, v := range strings.Fields(values) {
				if strings.Contains(err.Error(), v) {
					t.Errorf("the error quotes a value: %v", err)
				}
			}
		})
	}
}

func TestCredentialsDefaultOAuthURL(t *testing.T) {
	var c bitrix24.Credentials
	raw := `{"portalUrl":"https://acme.bitrix24.com/rest/","accessToken":"a","refreshToken":"r","appClientId":"i","appClientSecret":"s"}`
	if err := vendors.DecodeCredentials("acme/bitrix24", []byte(raw), &c); err != nil {
		t.Fatal(err)
	}
	if c.OAuthURL != bitrix24.DefaultOAuthURL || c.Webhook() {
		t.Errorf("oauthUrl = %q, webhook = %v", c.OAuthURL, c.Webhook())
	}
}

// TestCredentialsNeverPrint: formatting the credentials by mistake shows no value.
func TestCredentialsNeverPrint(t *testing.T) {
	c := bitrix24.Credentials{WebhookURL: "https://a/rest/1/s3cr3tc0de9/", AccessToken: "acc3sst0ken1", AppClientSecret: "cl1ents3cret"}
	for _, s := range []string{fmt.Sprint(c), fmt.Sprintf("%v %+v %#v %s", c, c, c, c), fmt.Sprint(&c)} {
		for _, v := range []string{"s3cr3tc0de9", "acc3sst0ken1", "cl1ents3cret"} {
			if strings.Contains(s, v) {
				t.Errorf("%q shows a value", s)
			}
		}
	}
}

func asHandoff(err error, target **handoff.Error) bool {
	e, ok := err.(*handoff.Error)
	*target = e
	return ok
}
