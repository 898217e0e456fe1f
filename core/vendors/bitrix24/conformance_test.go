package bitrix24_test

import (
	"testing"

	"handoff/core/handoff"
	"handoff/core/vendors/bitrix24/bitrix24sandbox"
	"handoff/core/vendors/vendortest"
)

// TestConformance runs the shared suite against the sandbox, once per auth mode: the URL, the
// auth and the recovery from refused credentials differ between them.
func TestConformance(t *testing.T) {
	for _, m := range []mode{oauthMode, webhookMode} {
		t.Run(string(m), func(t *testing.T) {
			vendortest.Run(t, harness(m))
		})
	}
}

func harness(m mode) vendortest.Harness {
	queue := handoff.Target{Type: handoff.TargetQueue, ID: bitrix24sandbox.LineID}
	next := handoff.Target{Type: handoff.TargetNext}
	rejected, unavailable, auth := handoff.CodeVendorRejected, handoff.CodeVendorUnavailable, handoff.CodeVendorAuthFailed
	return vendortest.Harness{
		Setup: func(t *testing.T) vendortest.Setup {
			f := newFixture(t, m, nil)
			return vendortest.Setup{Transferer: f.adapter, Sandbox: f.sandbox, Secrets: secretValues(t), Logs: f.logs}
		},
		Tenant:       tenant,
		Conversation: handoff.Conversation{ID: bitrix24sandbox.ChatID},
		Targets: []handoff.Target{
			{Type: handoff.TargetAgent, ID: bitrix24sandbox.UserID},
			queue,
			next,
		},
		Unsupported: []handoff.TargetType{handoff.TargetSkill},
		// Every code of docs/vendors/bitrix24.md and the seed, with what it must become.
		Errors: []vendortest.ErrorCase{
			{VendorCode: "CHAT_ID_EMPTY", Want: rejected},
			{VendorCode: "USER_ID_EMPTY", Want: rejected},
			{VendorCode: "QUEUE_ID_EMPTY", Want: rejected, Target: &queue},
			{VendorCode: "TRANSFER_ID_EMPTY", Want: rejected},
			{VendorCode: "BOT_ID_ERROR", Want: rejected},
			{VendorCode: "OPERATOR_WRONG", Want: handoff.CodeTargetUnavailable},
			{VendorCode: "WRONG_CHAT", Want: rejected, Target: &next},
			{VendorCode: "WRONG_AUTH_TYPE", Want: auth},
			{VendorCode: "INTERNAL_SERVER_ERROR", Want: unavailable},
			{VendorCode: "ERROR_UNEXPECTED_ANSWER", Want: unavailable},
			{VendorCode: "QUERY_LIMIT_EXCEEDED", Want: handoff.CodeRateLimited},
			{VendorCode: "query_limit_exceeded", Want: handoff.CodeRateLimited}, // codes ignore case
			{VendorCode: "OPERATION_TIME_LIMIT", Want: handoff.CodeRateLimited},
			{VendorCode: "OVERLOAD_LIMIT", Want: unavailable},
			{VendorCode: "ERROR_BATCH_METHOD_NOT_ALLOWED", Want: rejected},
			{VendorCode: "ERROR_BATCH_LENGTH_EXCEEDED", Want: rejected},
			{VendorCode: "NO_AUTH_FOUND", Want: auth},
			{VendorCode: "INVALID_REQUEST", Want: handoff.CodeConfiguration},
			{VendorCode: "ACCESS_DENIED", Want: auth},
			{VendorCode: "INVALID_CREDENTIALS", Want: auth},
			{VendorCode: "ERROR_MANIFEST_IS_NOT_AVAILABLE", Want: rejected},
			{VendorCode: "insufficient_scope", Want: auth},
			{VendorCode: "expired_token", Want: auth},
			{VendorCode: "invalid_token", Want: auth},
			{VendorCode: "user_access_error", Want: auth},
			{VendorCode: "PORTAL_DELETED", Want: auth},
			{VendorCode: "ERROR_METHOD_NOT_FOUND", Want: rejected},
			{VendorCode: "SOMETHING_NEW", Want: rejected}, // unknown: by its status, 400
		},
	}
}
