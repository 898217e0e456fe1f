package koreai

// CallbackToken exposes the callback token to the black-box tests, which sign callbacks with it.
var CallbackToken = callbackToken
