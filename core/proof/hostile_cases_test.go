package proof_test

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"

	"handoff/core/vendors/liveperson/livepersonsandbox"
)

const (
	bad      = http.StatusBadRequest
	tooLarge = http.StatusRequestEntityTooLarge
	notFound = http.StatusNotFound
	unauth   = http.StatusUnauthorized
)

// hostileRequests is the table: POST /transfers, GET /transfers/{id}, POST /callbacks/koreai,
// POST /callbacks/bitrix24 and GET /availability, each sent what an attacker or a broken client
// would send.
func hostileRequests() []hostile {
	var hs []hostile
	add := func(name string, want int, send func(*world) (httpHandler, eventsRequest)) {
		hs = append(hs, hostile{name: name, want: want, send: send})
	}
	huge := strings.Repeat("x", 1<<20)

	// POST /transfers: size and shape.
	add("post/1 MiB body", tooLarge, post(with("note", `"`+huge+`"`)))
	add("post/1 MiB body, base64", tooLarge, postB64(base64.StdEncoding.EncodeToString([]byte(with("note", `"`+huge+`"`)))))
	add("post/base64 that is not", bad, postB64("{not base64}"))
	add("post/100k [ nesting", tooLarge, post(`{"metadata":`+strings.Repeat("[", 100_000)))
	add("post/60k [ nesting under the limit", bad, post(`{"metadata":`+strings.Repeat("[", 60_000)+strings.Repeat("]", 3000)+`}`))
	add("post/12k { nesting", bad, post(with("metadata", strings.Repeat(`{"a":`, 12_000)+"1"+strings.Repeat("}", 12_000))))
	add("post/array", bad, post(`[`+validPost+`]`))
	add("post/string", bad, post(`"`+validPost+`"`))
	add("post/empty", bad, post(""))
	add("post/trailing object", bad, post(validPost+`{}`))
	add("post/trailing garbage", bad, post(validPost+`garbage`))
	// Wrong types everywhere.
	for field, v := range map[string]string{
		"tenant": `7`, "vendor": `true`, "conversation": `"113"`, "target": `[]`, "fallbacks": `{}`,
		"note": `["a"]`, "options": `"leave"`, "bot": `1`, "metadata": `[]`, "idempotencyKey": `5`,
	} {
		add("post/wrong type/"+field, bad, post(with(field, v)))
	}
	add("post/wrong type/conversation.id", bad, post(with("conversation", `{"id": 113}`)))
	add("post/wrong type/target.type", bad, post(with("target", `{"type": 1, "id": "12"}`)))
	add("post/wrong type/fallbacks[0]", bad, post(with("fallbacks", `[1]`)))
	add("post/wrong type/options.leave", bad, post(with("options", `{"leave": "true"}`)))
	add("post/wrong type/bot.sessionId", bad, post(with("bot", `{"vendor": "salesforce", "sessionId": {}}`)))
	add("post/wrong type/metadata value", bad, post(with("metadata", `{"a": {"b": 1}}`)))
	add("post/number overflow", bad, post(with("options", `{"leave": 1e999}`)))
	add("post/unknown field", bad, post(with("tenantt", `"acme"`)))
	// Duplicate keys: which one wins depends on the parser; none may be guessed.
	add("post/duplicate key/tenant", bad, post(strings.Replace(validPost, `"tenant": "acme"`, `"tenant": "acme", "tenant": "acme"`, 1)))
	add("post/duplicate key/target.id", bad, post(strings.Replace(validPost, `"id": "12"`, `"id": "12", "id": "14"`, 1)))
	add("post/duplicate key/escaped", bad, post(strings.Replace(validPost, `"note": "Refund."`, `"note": "Refund.", "not\u0065": "x"`, 1)))
	add("post/duplicate key/metadata", bad, post(with("metadata", `{"orderId": "A-17", "orderId": "A-18"}`)))
	// NUL bytes and invalid UTF-8.
	add("post/NUL in tenant", bad, post(with("tenant", `"ac\u0000me"`)))
	add("post/raw NUL in a string", bad, post(with("note", "\"a\x00b\"")))
	add("post/NUL in note", bad, post(with("note", `"a\u0000b"`)))
	add("post/NUL in Idempotency-Key", bad, post(validPost, "Idempotency-Key", "k\x00ey"))
	add("post/invalid UTF-8 in note", bad, post(with("note", "\"caf\xe9\"")))
	add("post/invalid UTF-8 in conversation.id", bad, post(with("conversation", "{\"id\": \"11\xff3\"}")))
	add("post/invalid UTF-8 in a key", bad, post(strings.Replace(validPost, `"note"`, "\"no\xfete\"", 1)))
	add("post/lone surrogate escape", bad, post(with("conversation", `{"id": "\ud800113"}`)))
	// Unicode tricks.
	add("post/RTL override in conversation.id", bad, post(with("conversation", `{"id": "11\u202e3"}`)))
	add("post/zero-width space in target.id", bad, post(with("target", `{"type": "agent", "id": "1\u200b2"}`)))
	add("post/homoglyph tenant", bad, post(with("tenant", `"аcme"`))) // Cyrillic а
	add("post/fullwidth digits", bad, post(with("conversation", `{"id": "１１３"}`)))
	add("post/homoglyph vendor", bad, post(with("vendor", `"bitrіx24"`))) // Ukrainian і
	// Path traversal, encoded separators and long ids.
	add("post/traversal in conversation.id", bad, post(with("conversation", `{"id": "../../113"}`)))
	add("post/backslash in target.id", bad, post(with("target", `{"type": "agent", "id": "..\\12"}`)))
	add("post/dot segment target.id", bad, post(with("target", `{"type": "agent", "id": ".."}`)))
	add("post/%2F in conversation.id", bad, post(with("conversation", `{"id": "..%2F..%2F113"}`)))
	add("post/%2F in a LivePerson agent id", bad, post(strings.NewReplacer(`"bitrix24"`, `"liveperson"`, `"113"`, `"`+livepersonsandbox.DemoChatID+`"`,
		`"12"`, `"6%2F..%2F7"`).Replace(validPost)))
	add("post/257-character conversation.id", bad, post(with("conversation", `{"id": "`+strings.Repeat("1", 257)+`"}`)))
	add("post/256-character Idempotency-Key", bad, post(validPost, "Idempotency-Key", strings.Repeat("k", 256)))
	add("post/Idempotency-Key with a space", bad, post(validPost, "Idempotency-Key", "k 1"))
	add("post/11 fallbacks", bad, post(with("fallbacks", `[`+strings.Repeat(`{"type":"next"},`, 10)+`{"type":"next"}]`)))
	add("post/2001-character note", bad, post(with("note", `"`+strings.Repeat("é", 2001)+`"`)))
	// Who and where.
	add("post/unknown tenant", notFound, post(with("tenant", `"globex"`)))
	add("post/unknown vendor", bad, post(with("vendor", `"acmecc"`)))
	add("post/a bot as the vendor", bad, post(with("vendor", `"salesforce"`)))
	add("post/unsupported target", bad, post(with("target", `{"type": "skill", "id": "2"}`)))
	add("post/bot that does not exist", bad, post(with("bot", `{"vendor": "telegram"}`)))
	add("post/reused key, other body", http.StatusUnprocessableEntity, post(validPost, "Idempotency-Key", "hk-3"))

	// GET /transfers/{id}.
	for name, id := range map[string]string{
		"empty": "", "dot segment": "..", "traversal": "../TRANSFER", "NUL": "a\x00b", "invalid UTF-8": "\xff\xfe",
		"RTL override": "ab\u202ecd", "257 characters": strings.Repeat("a", 257), "slash": "a/b", "space": "a b",
	} {
		add("get/"+name, bad, get(id))
	}
	add("get/encoded traversal", notFound, get("..%2F..%2Fx"))
	add("get/another item's key", notFound, get("IDEM#acme#hk-3"))
	add("get/unknown", notFound, get("0123456789abcdefghjkmnpqrs"))

	// POST /callbacks/koreai: forged, truncated, foreign and repeated proofs.
	add("kore/no query", bad, callback("koreai", raw(""), koreBody))
	add("kore/no token", unauth, callback("koreai", kq(func(q url.Values, _ *world) { q.Del("token") }), koreBody))
	add("kore/empty token", unauth, callback("koreai", kq(func(q url.Values, _ *world) { q.Set("token", "") }), koreBody))
	add("kore/truncated token", unauth, callback("koreai", kq(func(q url.Values, _ *world) { q.Set("token", q.Get("token")[:20]) }), koreBody))
	add("kore/token of another transfer", unauth, callback("koreai", kq(func(q url.Values, w *world) { q.Set("token", w.reported.Get("token")) }), koreBody))
	add("kore/token for another tenant", unauth, callback("koreai", kq(func(q url.Values, _ *world) { q.Set("tenant", "globex") }), koreBody))
	add("kore/forged token", unauth, callback("koreai", kq(func(q url.Values, _ *world) {
		q.Set("token", base64.RawURLEncoding.EncodeToString(make([]byte, 32)))
	}), koreBody))
	add("kore/token in a header only", unauth, callback("koreai", kq(func(q url.Values, _ *world) { q.Del("token") }), koreBody, "token", "x"))
	add("kore/token twice", unauth, callback("koreai", kq(func(q url.Values, _ *world) { q.Add("token", q.Get("token")) }), koreBody))
	add("kore/transfer twice", unauth, callback("koreai", kq(func(q url.Values, w *world) { q.Add("transfer", w.reported.Get("transfer")) }), koreBody))
	add("kore/tenant twice", bad, callback("koreai", kq(func(q url.Values, _ *world) { q.Add("tenant", "globex") }), koreBody))
	add("kore/homoglyph tenant", bad, callback("koreai", kq(func(q url.Values, _ *world) { q.Set("tenant", "аcme") }), koreBody))
	add("kore/malformed query", bad, callback("koreai", raw("tenant=acme&token=%zz"), koreBody))
	add("kore/1 MiB body", tooLarge, callback("koreai", kq(func(url.Values, *world) {}), `{"status":"`+huge+`"}`))
	add("kore/60k [ body", bad, callback("koreai", kq(func(url.Values, *world) {}), `{"status":`+strings.Repeat("[", 60_000)))
	add("kore/not JSON", bad, callback("koreai", kq(func(url.Values, *world) {}), "status=transferred"))
	add("kore/vendor upper case", notFound, callback("KOREAI", kq(func(url.Values, *world) {}), koreBody))
	add("kore/vendor traversal", notFound, callback("../koreai", kq(func(url.Values, *world) {}), koreBody))
	add("kore/a vendor without callbacks", notFound, callback("salesforce", kq(func(url.Values, *world) {}), koreBody))
	hs = append(hs,
		hostile{name: "kore/replayed outcome", want: http.StatusOK, replay: true,
			send: callback("koreai", func(w *world) string { return w.reported.Encode() }, koreBodyFor(koreSecond, "transferred"))},
	)

	// POST /callbacks/bitrix24: the application token, the form and its PHP brackets.
	b24 := func(body string, headers ...string) func(*world) (httpHandler, eventsRequest) {
		if len(headers) == 0 {
			headers = []string{"Content-Type", form}
		}
		return callback("bitrix24", raw("tenant=acme"), body, headers...)
	}
	add("b24/no application token", unauth, b24(strings.Split(b24Event(appToken), "&auth")[0]))
	add("b24/empty application token", unauth, b24(b24Event("")))
	add("b24/wrong application token", unauth, b24(b24Event("sbxapptoken831c76b092f9f136")))
	add("b24/application token prefix", unauth, b24(b24Event(appToken[:len(appToken)-1])))
	add("b24/token only inside data", unauth, b24(strings.Split(b24Event(appToken), "&auth")[0]+
		"&data%5BBOT%5D%5B1%5D%5BAUTH%5D%5Bapplication_token%5D="+appToken))
	add("b24/token for another tenant", unauth, callback("bitrix24", raw("tenant=globex"), b24Event(appToken), "Content-Type", form))
	add("b24/no tenant", bad, callback("bitrix24", raw(""), b24Event(appToken), "Content-Type", form))
	add("b24/tenant twice", bad, callback("bitrix24", raw("tenant=acme&tenant=globex"), b24Event(appToken), "Content-Type", form))
	add("b24/JSON instead of a form", bad, b24(`{"event":"ONIMBOTMESSAGEADD"}`, "Content-Type", "application/json"))
	add("b24/key nested 20 deep", bad, b24(b24Event(appToken)+"&data"+strings.Repeat("%5Ba%5D", 20)+"=1"))
	add("b24/1001 fields", bad, b24(b24Event(appToken)+strings.Repeat("&x%5B%5D=1", 1001)))
	add("b24/600-byte key", bad, b24(b24Event(appToken)+"&"+strings.Repeat("k", 600)+"=1"))
	add("b24/bracket bomb", bad, b24(b24Event(appToken)+"&"+strings.Repeat("a%5B", 300)+"=1"))
	add("b24/bad percent-encoding", bad, b24(b24Event(appToken)+"&data%5B%zz%5D=1"))
	add("b24/1 MiB body", tooLarge, b24(b24Event(appToken)+"&x="+huge))
	add("b24/unknown event", bad, b24(strings.Replace(b24Event(appToken), "ONIMBOTMESSAGEADD", "ONCRMDEALADD", 1)))
	add("b24/chat id not a number", bad, b24(strings.Replace(b24Event(appToken), "CHAT_ID%5D=112", "CHAT_ID%5D=..%2F112", 1)))
	add("b24/chat without a transfer", notFound, b24(strings.Replace(b24Event(appToken), "CHAT_ID%5D=112", "CHAT_ID%5D=114", 1)))

	// GET /availability.
	lp := "&vendor=liveperson&conversationId=" + url.QueryEscape(livepersonsandbox.DemoChatID)
	add("avail/no query", bad, avail(""))
	add("avail/homoglyph tenant", bad, avail("tenant=%D0%B0cme"+lp))
	add("avail/unknown tenant", notFound, avail("tenant=globex"+lp))
	add("avail/tenant twice", bad, avail("tenant=acme&tenant=globex"+lp))
	add("avail/vendor twice", bad, avail("tenant=acme&vendor=koreai"+lp))
	add("avail/conversation twice", bad, avail("tenant=acme"+lp+"&conversationId=H1"))
	add("avail/a vendor without availability", bad, avail("tenant=acme&vendor=salesforce"))
	add("avail/traversal in conversationId", bad, avail("tenant=acme&vendor=liveperson&conversationId=..%2F..%2Fx"))
	add("avail/NUL in conversationId", bad, avail("tenant=acme&vendor=liveperson&conversationId=a%00b"))
	add("avail/257-character conversationId", bad, avail("tenant=acme&vendor=liveperson&conversationId="+strings.Repeat("1", 257)))
	add("avail/unknown target type", bad, avail("tenant=acme"+lp+"&target=robot:1"))
	add("avail/target without id", bad, avail("tenant=acme"+lp+"&target=skill:"))
	add("avail/11 targets", bad, avail("tenant=acme"+lp+strings.Repeat("&target=skill:2", 11)))
	add("avail/malformed query", bad, avail("tenant=acme&vendor=%zz"))
	return hs
}

func koreBodyFor(session, status string) string {
	return `{"sessionId": "` + session + `", "status": "` + status + `"}`
}
