// Package proof holds no code, only tests: it drives the real handlers, use cases, store (on
// moto) and vendor adapters (against their sandboxes) through faults — a vendor that hangs,
// fails, resets, rate-limits or answers nonsense; DynamoDB that throttles; Secrets Manager that is
// down; a function that dies between the vendor call and the record — and through hostile input,
// and checks what each does to the user: no transfer made twice where the vendor can tell, none
// left pending without a way out, every final outcome acked once or recorded as not acked.
package proof
