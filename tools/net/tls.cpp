// TLS through OpenSSL: client/server contexts, self-signed certificates, TlsInfo.
#include "net/tls.h"

#include <array>
#include <system_error>

#include <asio/buffer.hpp>
#include <asio/ip/address.hpp>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

namespace smtp::net {

namespace {

struct BioFree {
  void operator()(BIO* b) const noexcept { BIO_free(b); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const noexcept { EVP_PKEY_free(k); }
};
struct PkeyCtxFree {
  void operator()(EVP_PKEY_CTX* c) const noexcept { EVP_PKEY_CTX_free(c); }
};
struct X509Free {
  void operator()(X509* x) const noexcept { X509_free(x); }
};
struct BnFree {
  void operator()(BIGNUM* b) const noexcept { BN_free(b); }
};
struct ExtFree {
  void operator()(X509_EXTENSION* e) const noexcept { X509_EXTENSION_free(e); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;
using BnPtr = std::unique_ptr<BIGNUM, BnFree>;
using ExtPtr = std::unique_ptr<X509_EXTENSION, ExtFree>;

std::string bio_text(BIO* bio) {
  char* data = nullptr;
  const long n = BIO_ctrl(bio, BIO_CTRL_INFO, 0, &data);
  if (n <= 0 || data == nullptr) return {};
  return std::string(data, static_cast<std::size_t>(n));
}

std::string name_text(const X509_NAME* name) {
  if (name == nullptr) return {};
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio) return {};
  if (X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253) < 0) return {};
  return bio_text(bio.get());
}

tl::unexpected<Error> setup_error(std::string what, std::error_code ec = {}) {
  std::string reason = ec ? ec.message() : openssl_error_text();
  if (!reason.empty()) what += ": " + reason;
  ERR_clear_error();
  return fail(errc::tls_setup, Op::tls_handshake, std::move(what), ec);
}

PkeyPtr generate_key(KeyType type) {
  PkeyCtxPtr ctx(
      EVP_PKEY_CTX_new_from_name(nullptr, type == KeyType::rsa2048 ? "RSA" : "EC", nullptr));
  if (!ctx || EVP_PKEY_keygen_init(ctx.get()) <= 0) return nullptr;
  if (type == KeyType::rsa2048) {
    if (EVP_PKEY_CTX_set_rsa_keygen_bits(ctx.get(), 2048) <= 0) return nullptr;
  } else {
    if (EVP_PKEY_CTX_set_group_name(ctx.get(), "P-256") <= 0) return nullptr;
  }
  EVP_PKEY* key = nullptr;
  if (EVP_PKEY_generate(ctx.get(), &key) <= 0) return nullptr;
  return PkeyPtr(key);
}

bool add_ext(X509* cert, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  ExtPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
  return ext && X509_add_ext(cert, ext.get(), -1) == 1;
}

bool add_name(X509_NAME* name, const char* field, std::string_view value) {
  return X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8,
                                    reinterpret_cast<const unsigned char*>(value.data()),
                                    static_cast<int>(value.size()), -1, 0) == 1;
}

std::string our_subject(SSL_CTX* ctx) {
  X509* cert = SSL_CTX_get0_certificate(ctx);
  return cert != nullptr ? name_text(X509_get_subject_name(cert)) : std::string{};
}

}  // namespace

std::string openssl_error_text() {
  const unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return {};
  std::array<char, 256> buf{};
  ERR_error_string_n(e, buf.data(), buf.size());
  return std::string(buf.data());
}

Result<ClientTls> make_client_tls(TlsClientOptions options) {
  try {
    auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
    ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_compression);
    std::error_code ec;
    if (!options.ca_file.empty()) {
      ctx->load_verify_file(options.ca_file, ec);
      if (ec) return setup_error("cannot load CA file " + options.ca_file, ec);
    } else if (!options.ca_pem.empty()) {
      ctx->add_certificate_authority(asio::buffer(options.ca_pem), ec);
      if (ec) return setup_error("cannot load CA certificates from PEM text", ec);
    } else {
      ctx->set_default_verify_paths(ec);
      if (ec) return setup_error("cannot load the system CA store", ec);
    }
    ctx->set_verify_mode(options.verify ? asio::ssl::verify_peer : asio::ssl::verify_none, ec);
    if (ec) return setup_error("cannot set the verify mode", ec);
    return ClientTls{std::move(ctx), std::move(options)};
  } catch (const std::system_error& e) {
    return setup_error(std::string("cannot create a TLS client context: ") + e.what());
  }
}

Result<CertificatePem> make_self_signed(KeyType key_type, std::string_view common_name, int days) {
  PkeyPtr key = generate_key(key_type);
  if (!key) return setup_error("key generation failed");
  X509Ptr cert(X509_new());
  if (!cert) return setup_error("X509_new failed");
  std::array<unsigned char, 16> serial{};
  if (RAND_bytes(serial.data(), static_cast<int>(serial.size())) != 1) {
    return setup_error("no randomness for the serial number");
  }
  serial[0] &= 0x7f;  // positive
  BnPtr bn(BN_bin2bn(serial.data(), static_cast<int>(serial.size()), nullptr));
  X509_NAME* name = X509_get_subject_name(cert.get());
  const bool ok =
      X509_set_version(cert.get(), X509_VERSION_3) == 1 && bn &&
      BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert.get())) != nullptr &&
      X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600) != nullptr &&
      X509_gmtime_adj(X509_getm_notAfter(cert.get()), static_cast<long>(days) * 86400L) !=
          nullptr &&
      X509_set_pubkey(cert.get(), key.get()) == 1 && add_name(name, "CN", common_name) &&
      add_name(name, "O", "smtp-harness") && X509_set_issuer_name(cert.get(), name) == 1 &&
      add_ext(cert.get(), NID_basic_constraints, "critical,CA:TRUE") &&
      add_ext(cert.get(), NID_key_usage, "critical,digitalSignature,keyEncipherment,keyCertSign") &&
      add_ext(cert.get(), NID_ext_key_usage, "serverAuth") &&
      add_ext(cert.get(), NID_subject_key_identifier, "hash") &&
      add_ext(cert.get(), NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1,IP:::1") &&
      X509_sign(cert.get(), key.get(), EVP_sha256()) > 0;
  if (!ok) return setup_error("building the self-signed certificate failed");

  BioPtr cert_bio(BIO_new(BIO_s_mem()));
  BioPtr key_bio(BIO_new(BIO_s_mem()));
  if (!cert_bio || !key_bio || PEM_write_bio_X509(cert_bio.get(), cert.get()) != 1 ||
      PEM_write_bio_PrivateKey(key_bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) !=
          1) {
    return setup_error("PEM encoding failed");
  }
  return CertificatePem{bio_text(cert_bio.get()), bio_text(key_bio.get())};
}

Result<ServerTls> make_server_tls(const CertificatePem& pem) {
  try {
    auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
    ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_compression);
    std::error_code ec;
    ctx->use_certificate_chain(asio::buffer(pem.cert_pem), ec);
    if (ec) return setup_error("cannot load the certificate", ec);
    ctx->use_private_key(asio::buffer(pem.key_pem), asio::ssl::context::pem, ec);
    if (ec) return setup_error("cannot load the private key", ec);
    if (SSL_CTX_check_private_key(ctx->native_handle()) != 1) {
      return setup_error("the private key does not match the certificate");
    }
    std::string subject = our_subject(ctx->native_handle());
    return ServerTls{std::move(ctx), std::move(subject)};
  } catch (const std::system_error& e) {
    return setup_error(std::string("cannot create a TLS server context: ") + e.what());
  }
}

Result<ServerTls> make_server_tls_from_files(const std::string& cert_file,
                                             const std::string& key_file) {
  try {
    auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
    ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_compression);
    std::error_code ec;
    ctx->use_certificate_chain_file(cert_file, ec);
    if (ec) return setup_error("cannot load certificate file " + cert_file, ec);
    ctx->use_private_key_file(key_file, asio::ssl::context::pem, ec);
    if (ec) return setup_error("cannot load key file " + key_file, ec);
    if (SSL_CTX_check_private_key(ctx->native_handle()) != 1) {
      return setup_error("key file " + key_file + " does not match certificate " + cert_file);
    }
    std::string subject = our_subject(ctx->native_handle());
    return ServerTls{std::move(ctx), std::move(subject)};
  } catch (const std::system_error& e) {
    return setup_error(std::string("cannot create a TLS server context: ") + e.what());
  }
}

Result<ServerTls> make_self_signed_server_tls(KeyType key) {
  auto pem = make_self_signed(key);
  if (!pem) return tl::make_unexpected(std::move(pem.error()));
  return make_server_tls(*pem);
}

namespace detail {

namespace {

int tls_info_index() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

/// Records the leaf certificate's names while OpenSSL verifies the chain, so a report can
/// name the certificate even when verification fails (then no peer certificate is kept).
int record_leaf(int preverify_ok, X509_STORE_CTX* store) {
  auto* ssl =
      static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  if (ssl == nullptr) return preverify_ok;
  auto* info = static_cast<TlsInfo*>(SSL_get_ex_data(ssl, tls_info_index()));
  if (info != nullptr && X509_STORE_CTX_get_error_depth(store) == 0) {
    if (X509* leaf = X509_STORE_CTX_get_current_cert(store); leaf != nullptr) {
      info->peer_subject = name_text(X509_get_subject_name(leaf));
      info->peer_issuer = name_text(X509_get_issuer_name(leaf));
    }
  }
  return preverify_ok;
}

}  // namespace

bool prepare_client_ssl(SSL* ssl, const std::string& host, TlsInfo& info) {
  if (tls_info_index() < 0 || SSL_set_ex_data(ssl, tls_info_index(), &info) != 1) return false;
  SSL_set_verify(ssl, SSL_get_verify_mode(ssl), record_leaf);
  if (host.empty()) return true;
  std::error_code ec;
  (void)asio::ip::make_address(host, ec);
  const bool is_ip = !ec;
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
  if (is_ip) {
    return X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str()) == 1;
  }
  std::string name = host;
  if (name.back() == '.') name.pop_back();
  info.sni = name;
  // SSL_set_tlsext_host_name() without its old-style cast.
  return SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                  const_cast<char*>(name.c_str())) == 1 &&
         X509_VERIFY_PARAM_set1_host(param, name.c_str(), 0) == 1;
}

void fill_tls_info(SSL* ssl, bool client, TlsInfo& info) {
  if (const char* v = SSL_get_version(ssl); v != nullptr && SSL_is_init_finished(ssl) == 1) {
    info.version = v;
  }
  if (const SSL_CIPHER* c = SSL_get_current_cipher(ssl); c != nullptr) {
    info.cipher = SSL_CIPHER_get_name(c);
  }
  if (!client) {
    if (const char* sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name); sni != nullptr) {
      info.sni = sni;
    }
  }
  X509Ptr peer(SSL_get1_peer_certificate(ssl));
  if (peer) {
    info.peer_subject = name_text(X509_get_subject_name(peer.get()));
    info.peer_issuer = name_text(X509_get_issuer_name(peer.get()));
  }
  if (client) {
    const long result = SSL_get_verify_result(ssl);
    if (result != X509_V_OK) {
      info.verified = false;
      info.verify_error = X509_verify_cert_error_string(result);
    } else if (!peer) {
      info.verified = false;
      info.verify_error = SSL_is_init_finished(ssl) == 1 ? "no peer certificate" : "";
    } else {
      info.verified = true;
      info.verify_error.clear();
    }
  }
}

}  // namespace detail

}  // namespace smtp::net
