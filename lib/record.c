/*
 * record.c — TLS 1.3 record protection done by libtcpls after the handshake: EVP AEAD with keys
 * from the application traffic secrets, and the TCPLS nonce (connection id in the top 32 bits,
 * the connection's record sequence in the low 64 bits). Connection 0's records are therefore
 * byte-for-byte valid TLS 1.3 records.
 */
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include "internal.h"

static const char *
suite_digest(uint16_t suite)
{
    return suite == TCPLS_SUITE_AES_256_GCM_SHA384 ? "SHA384" : "SHA256";
}

static const EVP_CIPHER *
suite_cipher(uint16_t suite, size_t *key_len)
{
    switch (suite) {
    case TCPLS_SUITE_AES_128_GCM_SHA256:
        *key_len = 16;
        return EVP_aes_128_gcm();
    case TCPLS_SUITE_AES_256_GCM_SHA384:
        *key_len = 32;
        return EVP_aes_256_gcm();
    case TCPLS_SUITE_CHACHA20_POLY1305_SHA256:
        *key_len = 32;
        return EVP_chacha20_poly1305();
    default:
        return NULL;
    }
}

int
tcpls__hkdf_expand_label(uint16_t suite, const uint8_t *secret, size_t secret_len, const char *label,
                         uint8_t *out, size_t out_len)
{
    uint8_t info[2 + 1 + 255 + 1];
    size_t label_len = strlen(label), info_len = 0;
    int mode = EVP_KDF_HKDF_MODE_EXPAND_ONLY, ret = TCPLS_ERR_CRYPTO;
    EVP_KDF *kdf = NULL;
    EVP_KDF_CTX *kctx = NULL;
    OSSL_PARAM params[5];

    if (label_len + 6 > 255 || out_len > 0xffff)
        return TCPLS_ERR_ARG;
    tcpls__put16(info, (uint16_t)out_len);
    info[2] = (uint8_t)(label_len + 6);
    memcpy(info + 3, "tls13 ", 6);
    memcpy(info + 9, label, label_len);
    info_len = 9 + label_len;
    info[info_len++] = 0; /* empty context */

    if ((kdf = EVP_KDF_fetch(NULL, "HKDF", NULL)) == NULL || (kctx = EVP_KDF_CTX_new(kdf)) == NULL)
        goto exit;
    params[0] = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
    params[1] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)suite_digest(suite), 0);
    params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)secret, secret_len);
    params[3] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info, info_len);
    params[4] = OSSL_PARAM_construct_end();
    if (EVP_KDF_derive(kctx, out, out_len, params) <= 0)
        goto exit;
    ret = 0;
exit:
    EVP_KDF_CTX_free(kctx);
    EVP_KDF_free(kdf);
    return ret;
}

int
tcpls__aead_init(tcpls_aead_t *a, uint16_t suite, const uint8_t *secret, size_t secret_len, int encrypt)
{
    uint8_t key[32];
    size_t key_len = 0;
    const EVP_CIPHER *cipher = suite_cipher(suite, &key_len);
    EVP_CIPHER_CTX *ctx = NULL;
    int ret = TCPLS_ERR_CRYPTO;

    memset(a, 0, sizeof(*a));
    if (cipher == NULL)
        return TCPLS_ERR_ARG;
    if ((ret = tcpls__hkdf_expand_label(suite, secret, secret_len, "key", key, key_len)) != 0 ||
        (ret = tcpls__hkdf_expand_label(suite, secret, secret_len, "iv", a->iv, sizeof(a->iv))) != 0)
        goto exit;
    ret = TCPLS_ERR_CRYPTO;
    if ((ctx = EVP_CIPHER_CTX_new()) == NULL)
        goto exit;
    if (EVP_CipherInit_ex(ctx, cipher, NULL, NULL, NULL, encrypt) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_IVLEN, 12, NULL) != 1 ||
        EVP_CipherInit_ex(ctx, NULL, NULL, key, NULL, encrypt) != 1)
        goto exit;
    a->evp = ctx;
    a->encrypt = encrypt;
    ctx = NULL;
    ret = 0;
exit:
    EVP_CIPHER_CTX_free(ctx);
    OPENSSL_cleanse(key, sizeof(key));
    return ret;
}

void
tcpls__aead_clear(tcpls_aead_t *a)
{
    if (a == NULL)
        return;
    EVP_CIPHER_CTX_free(a->evp);
    OPENSSL_cleanse(a, sizeof(*a));
}

void
tcpls__record_nonce(const uint8_t iv[12], uint32_t conn_id, uint64_t seq, uint8_t nonce[12])
{
    uint8_t mask[12];
    tcpls__put32(mask, conn_id);
    tcpls__put64(mask + 4, seq);
    for (int i = 0; i < 12; i++)
        nonce[i] = iv[i] ^ mask[i];
}

int
tcpls__record_seal(tcpls_aead_t *a, uint32_t conn_id, uint64_t seq, uint8_t content_type,
                   const tcpls_iov_t *parts, size_t nparts, uint8_t *out)
{
    EVP_CIPHER_CTX *ctx = a->evp;
    uint8_t nonce[12], *p = out + TCPLS_RECORD_HEADER_LEN;
    size_t total = 1;
    int outl;

    if (ctx == NULL || !a->encrypt)
        return TCPLS_ERR_STATE;
    for (size_t i = 0; i < nparts; i++)
        total += parts[i].len;
    if (total > TCPLS_MAX_PLAINTEXT + 1)
        return TCPLS_ERR_ARG;
    out[0] = TCPLS_CONTENT_APPDATA;
    out[1] = 0x03;
    out[2] = 0x03;
    tcpls__put16(out + 3, (uint16_t)(total + TCPLS_RECORD_TAG_LEN));
    tcpls__record_nonce(a->iv, conn_id, seq, nonce);
    if (EVP_EncryptInit_ex(ctx, NULL, NULL, NULL, nonce) != 1 ||
        EVP_EncryptUpdate(ctx, NULL, &outl, out, TCPLS_RECORD_HEADER_LEN) != 1)
        return TCPLS_ERR_CRYPTO;
    for (size_t i = 0; i < nparts; i++) {
        if (parts[i].len == 0)
            continue;
        if (EVP_EncryptUpdate(ctx, p, &outl, parts[i].base, (int)parts[i].len) != 1)
            return TCPLS_ERR_CRYPTO;
        p += outl;
    }
    if (EVP_EncryptUpdate(ctx, p, &outl, &content_type, 1) != 1)
        return TCPLS_ERR_CRYPTO;
    p += outl;
    if (EVP_EncryptFinal_ex(ctx, p, &outl) != 1)
        return TCPLS_ERR_CRYPTO;
    p += outl;
    if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, TCPLS_RECORD_TAG_LEN, p) != 1)
        return TCPLS_ERR_CRYPTO;
    p += TCPLS_RECORD_TAG_LEN;
    return (int)(p - out);
}

int
tcpls__record_length(const uint8_t *buf, size_t len)
{
    size_t body;
    if (len < TCPLS_RECORD_HEADER_LEN)
        return 0;
    /* After the handshake only application_data records exist (RFC 8446, 5.2), version 0x0303. */
    if (buf[0] != TCPLS_CONTENT_APPDATA || buf[1] != 0x03 || buf[2] != 0x03)
        return TCPLS_ERR_RECORD;
    body = tcpls__get16(buf + 3);
    if (body < TCPLS_RECORD_TAG_LEN + 1 || body > TCPLS_MAX_CIPHERTEXT)
        return TCPLS_ERR_RECORD;
    if (len < TCPLS_RECORD_HEADER_LEN + body)
        return 0;
    return (int)(TCPLS_RECORD_HEADER_LEN + body);
}

int
tcpls__record_open(tcpls_aead_t *a, uint32_t conn_id, uint64_t seq, const uint8_t *rec, size_t reclen,
                   uint8_t *out, size_t *out_len, uint8_t *content_type)
{
    EVP_CIPHER_CTX *ctx = a->evp;
    uint8_t nonce[12];
    size_t ctlen;
    int outl, n;

    if (ctx == NULL || a->encrypt)
        return TCPLS_ERR_STATE;
    if (tcpls__record_length(rec, reclen) != (int)reclen)
        return TCPLS_ERR_RECORD;
    ctlen = reclen - TCPLS_RECORD_HEADER_LEN - TCPLS_RECORD_TAG_LEN;
    tcpls__record_nonce(a->iv, conn_id, seq, nonce);
    if (EVP_DecryptInit_ex(ctx, NULL, NULL, NULL, nonce) != 1 ||
        EVP_DecryptUpdate(ctx, NULL, &outl, rec, TCPLS_RECORD_HEADER_LEN) != 1 ||
        EVP_DecryptUpdate(ctx, out, &outl, rec + TCPLS_RECORD_HEADER_LEN, (int)ctlen) != 1)
        return TCPLS_ERR_CRYPTO;
    n = outl;
    if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, TCPLS_RECORD_TAG_LEN,
                            (void *)(rec + reclen - TCPLS_RECORD_TAG_LEN)) != 1)
        return TCPLS_ERR_CRYPTO;
    if (EVP_DecryptFinal_ex(ctx, out + n, &outl) != 1)
        return TCPLS_ERR_DECRYPT;
    n += outl;
    /* TLSInnerPlaintext: content || type || zeros */
    while (n > 0 && out[n - 1] == 0)
        n--;
    if (n == 0)
        return TCPLS_ERR_RECORD;
    *content_type = out[n - 1];
    *out_len = (size_t)n - 1;
    if (*out_len > TCPLS_MAX_PLAINTEXT)
        return TCPLS_ERR_RECORD;
    return 0;
}
