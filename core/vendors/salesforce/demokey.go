package salesforce

// DemoPrivateKeyPEM is a SANDBOX/DEMO RSA key (2048-bit, PKCS #8), generated once for this
// repository and published with it: it is NOT a credential and must never be trusted by a real
// Salesforce connected app. The default sandbox trusts its public key, and DemoSecret puts it in
// the demo tenant's secret, so the local stack and the tests can run the JWT bearer flow end to
// end with a fixed secrets file. testdata/demo_private_key.pem holds the same bytes.
const DemoPrivateKeyPEM = `-----BEGIN PRIVATE KEY-----
MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQDFq6dDv5+CwGh9
s22iQwQM75QN76jHqgRRzvRkztQJ1dr5rZq3z6lkBOC99gxWJehIhyo/bkLs23vO
zvEAbT+rZxPCWVQ066Hh6wX5RqHQ8VHyggUWfzRDVXWYP5BTrqi/0mnW+dOcA1V8
SlA6cwOZhO0bzD6ifjUhaehkfse8QxJK+H4z8Q+C2qW1C9ojSPDXJCKRVmh7MIwx
uaVhN+dk8HfkZ/DqTaalaeUsMzTBBw2YDfv5eTI7LWN8ytiXP9ciZSeDOYGTytRb
y41Iyq+B8R0bcuSduD8WuOL91J42yWw1hFpH7okTp7R0MPBXTfCsWl5ocaaRlmiP
zPL2BZadAgMBAAECggEAV2V9nsaqj/TiPjGG16cps055929vAFh7cHBAPhH0TiTv
nFTVg0+dZUuC0npnGe/Is8iPNVxa2r5wDxAQHlAvRmlcoyE7yeokuO5gxcYk5WzM
/pveBARZ5ytxws7X0Sf4FFfD0/jBRslyknGI507S2J2c+B1l1BJZC1z4Eva6+NEn
Kj6FolM8VD/Tu9y38SLrHZdJfb2dcXU8fR6uCB9xKsOQXH7etVmLuGPZVvmFb0k8
R4PSvrs8OdlDKHeHfjXGLNs5Qcb+kl/57cYXXrSfUPpq1D7RPqB584Pxr1Ue+OsQ
BT5ozzBnBfVNU5/CNqhWNg2+VGzHw+BR4VSyeirtQQKBgQD1UzgHI+ciBzVSLH0l
OBHUOccZR0nlD5QZi+6srIcxEK6tRZGuRc3pTw3FG6fRDhCfGSic17+frige0E2j
ABDqBzGa80gTzkKHsD9jdVYMRJqeKCciEpcqUkdsM+9hpe2/Dx50T4VWdobShYC/
lvxlRpscRruzme/1G/vbC1mfewKBgQDORZcMVGC7zNHIncHYRwCUn5qbIG0+uncl
ulUfGF7InZSHeYZvangYx3NK8SM9dFpFEjDELi6pZ++quCCeteHY3meoAyXeoljV
8u7tbHDWpQJIigpDM8EqE8OMGtVrX291T4wVEFxHeocybYMv2K4pc0hWU6dIDy+E
iszRq+56xwKBgQDb8RQWMrYR5+yCE6jPKYmyf2pk22kAmArrLG17GeLKtm4kom6N
k7+cIGf0A2tdHgMA4IlstHD0NCt8FLzGGlUPvAtZJCvGtfEnvXfXL2dJ8Ge+y7jp
70jfhIzMEXPYU+7mkCN5m6GrdvBA5bgcDL2T/s0peLDnwGdFlSUjqPVc6QKBgBos
gmoyGsQ5zTTjr8E94Tj6t6ePic034/6JkluLwBs8w6gdJ43juLGMPXj4+DvIE9xH
3qBGK+2bHrJPAvSgp7PZJNYQ8DE78IHVfbPq2rah4ZRKz9qPKqeoMlwI26PwTDha
i6/wj4USay1e8BKWMCNaWYd6vfNK2gC7jBne8zfpAoGAH6cR1uy/hnPo3k3BvCvi
s1r4S5ZwMsuqn+UyonAMfFgbayNpPLz0AkGQ9ht84h8NzgrO1n2up3PZP8h5afyl
GK6c4M8jdQQAD5/h+xFztk8Kxn74JRzdgoIGn4nnORVeNg7sKf6QxDBQ+tVmLjUa
+Lu7Nxc062Lk3DmDdG7Uv/Q=
-----END PRIVATE KEY-----
`
