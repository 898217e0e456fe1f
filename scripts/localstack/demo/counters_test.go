package demo_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"handoff/scripts/localstack/demo"
)

// TestCountersCountTransferCallsByConversation sends each transfer vendor's sandbox transfer
// calls (refused ones count too: no credentials here) and reads them back over HTTP.
func TestCountersCountTransferCallsByConversation(t *testing.T) {
	s, err := demo.StartSandboxes()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	post := func(url, body string) {
		t.Helper()
		resp, err := http.Post(url, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	post(s.URL("bitrix24")+"/rest/imopenlines.bot.session.transfer", `{"CHAT_ID":112,"USER_ID":12}`)
	post(s.URL("bitrix24")+"/rest/imopenlines.bot.session.operator.json", `{"CHAT_ID":"113"}`)
	post(s.URL("bitrix24")+"/rest/imopenlines.config.list.get", `{}`)
	post(s.URL("liveperson")+"/api/account/123456/agentSession/s1/chat/C-1/transfer?v=1", `{}`)
	post(s.URL("koreai")+"/agentassist/api/v1/public/st-x/assign-conversation", `{"botSessionId":"653a06c9aae89c5fbb4e0001"}`)

	rec := httptest.NewRecorder()
	s.CountersHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, demo.CountersPath, nil))
	var c demo.Counters
	if err := json.Unmarshal(rec.Body.Bytes(), &c); err != nil || rec.Code != http.StatusOK {
		t.Fatalf("answer %d %s: %v", rec.Code, rec.Body, err)
	}
	if c["bitrix24"].Requests != 3 || c["bitrix24"].TransferCalls != 2 || c["bitrix24"].ByConversation["112"] != 1 || c["bitrix24"].ByConversation["113"] != 1 {
		t.Errorf("bitrix24 = %+v", c["bitrix24"])
	}
	if c["liveperson"].TransferCalls != 1 || c["liveperson"].ByConversation["C-1"] != 1 {
		t.Errorf("liveperson = %+v", c["liveperson"])
	}
	if c["koreai"].TransferCalls != 1 || c["koreai"].ByConversation["653a06c9aae89c5fbb4e0001"] != 1 {
		t.Errorf("koreai = %+v", c["koreai"])
	}
	if c["webhook"].Acks != 0 || c["salesforce"].AckCalls != 0 {
		t.Errorf("acks without any transfer: %+v %+v", c["webhook"], c["salesforce"])
	}
	rec = httptest.NewRecorder()
	s.CountersHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodPost, demo.CountersPath, nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST answered %d, want 405", rec.Code)
	}
}
