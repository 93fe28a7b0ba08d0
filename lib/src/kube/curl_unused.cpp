// Stand-ins for the libraries behind the parts of libcurl that gpuorch never
// enables, for gpuorch's own binaries, which link libcurl's archive
// (cmake/Dependencies.cmake, GPUORCH_STATIC_CURL).
//
// Debian's libcurl is built with LDAP, RTMP, SCP/SFTP (libssh2) and GSS-API
// (Kerberos, SPNEGO) support. Linked as a shared library, it makes every start
// of gpuorch map and relocate those libraries and theirs: 20 of its 39 shared
// libraries, about 3 ms of the ~10 ms a `gpuorch submit` takes
// (docs/benchmarks.md). gpuorch limits every transfer to http and https
// (CURLOPT_PROTOCOLS_STR), authenticates to servers and proxies with headers or
// Basic only (no Negotiate, CURLOPT_SOCKS5_AUTH without GSS-API), so libcurl
// never reaches these libraries; the archive still refers to them. The
// definitions below satisfy those references instead:
//  - the four functions libcurl calls whatever the protocol (from
//    curl_global_init, curl_global_cleanup, curl_version_info and
//    curl_version) do nothing and report no library;
//  - every other one stops the process with its name on stderr: reaching it
//    would mean a transfer escaped the protocol limit, which the tests check
//    cannot happen (tests/unit/kube/tls_test.cpp: other schemes, a SOCKS5
//    proxy that demands GSS-API).
// A libcurl update that refers to another function of these libraries fails
// the link, naming it; add it to the list.
//
// Not part of libgpuorch: installed consumers link the shared libcurl.

#include <unistd.h>

#include <cstdlib>
#include <cstring>

namespace {

[[noreturn]] void unreachable(const char* name) {
  static constexpr char k_prefix[] = "gpuorch: libcurl called ";
  static constexpr char k_suffix[] = ", which this build leaves out (gpuorch limits libcurl to http and https)\n";
  // write(2) only: this may run in any state of the process.
  (void)!write(STDERR_FILENO, k_prefix, sizeof(k_prefix) - 1);
  (void)!write(STDERR_FILENO, name, std::strlen(name));
  (void)!write(STDERR_FILENO, k_suffix, sizeof(k_suffix) - 1);
  std::abort();
}

}  // namespace

// NOLINTBEGIN: the names and signatures are the libraries' own (C linkage).
extern "C" {

// Called by curl_global_init and curl_global_cleanup: libssh2 has nothing to
// set up or tear down here.
int libssh2_init(int flags);
int libssh2_init(int /*flags*/) {
  return 0;
}
void libssh2_exit();
void libssh2_exit() {}

// curl_version_info and curl_version: the SSH and LDAP versions they report.
const char* libssh2_version(int required_version);
const char* libssh2_version(int /*required_version*/) {
  return "unavailable";
}
int ldap_get_option(void* ld, int option, void* out);
int ldap_get_option(void* /*ld*/, int /*option*/, void* /*out*/) {
  return -1;  // LDAP_OPT_ERROR: libcurl then reports no LDAP library version
}

// libcurl's SPNEGO code passes this OID to gss_import_name, which only
// Negotiate authentication, never enabled, reaches.
extern void* const GSS_C_NT_HOSTBASED_SERVICE;
void* const GSS_C_NT_HOSTBASED_SERVICE = nullptr;

#define GPUORCH_UNREACHABLE(name) \
  void name();                    \
  void name() {                   \
    unreachable(#name);           \
  }

// LDAP (OpenLDAP: libldap, liblber)
GPUORCH_UNREACHABLE(ber_bvfree)
GPUORCH_UNREACHABLE(ber_free)
GPUORCH_UNREACHABLE(ber_memfree)
GPUORCH_UNREACHABLE(ber_memvfree)
GPUORCH_UNREACHABLE(ber_sockbuf_add_io)
GPUORCH_UNREACHABLE(ldap_abandon_ext)
GPUORCH_UNREACHABLE(ldap_err2string)
GPUORCH_UNREACHABLE(ldap_free_urldesc)
GPUORCH_UNREACHABLE(ldap_get_attribute_ber)
GPUORCH_UNREACHABLE(ldap_get_dn_ber)
GPUORCH_UNREACHABLE(ldap_init_fd)
GPUORCH_UNREACHABLE(ldap_memfree)
GPUORCH_UNREACHABLE(ldap_msgfree)
GPUORCH_UNREACHABLE(ldap_msgtype)
GPUORCH_UNREACHABLE(ldap_parse_result)
GPUORCH_UNREACHABLE(ldap_parse_sasl_bind_result)
GPUORCH_UNREACHABLE(ldap_pvt_url_scheme2proto)
GPUORCH_UNREACHABLE(ldap_result)
GPUORCH_UNREACHABLE(ldap_sasl_bind)
GPUORCH_UNREACHABLE(ldap_search_ext)
GPUORCH_UNREACHABLE(ldap_set_option)
GPUORCH_UNREACHABLE(ldap_start_tls)
GPUORCH_UNREACHABLE(ldap_unbind_ext)
GPUORCH_UNREACHABLE(ldap_url_parse)

// RTMP (librtmp)
GPUORCH_UNREACHABLE(RTMP_Alloc)
GPUORCH_UNREACHABLE(RTMP_Close)
GPUORCH_UNREACHABLE(RTMP_Connect1)
GPUORCH_UNREACHABLE(RTMP_ConnectStream)
GPUORCH_UNREACHABLE(RTMP_Free)
GPUORCH_UNREACHABLE(RTMP_Init)
GPUORCH_UNREACHABLE(RTMP_Read)
GPUORCH_UNREACHABLE(RTMP_SetBufferMS)
GPUORCH_UNREACHABLE(RTMP_SetupURL)
GPUORCH_UNREACHABLE(RTMP_Write)

// GSS-API (libgssapi_krb5): Negotiate/SPNEGO, SOCKS5 GSS-API, Kerberos FTP and SASL
GPUORCH_UNREACHABLE(gss_delete_sec_context)
GPUORCH_UNREACHABLE(gss_display_name)
GPUORCH_UNREACHABLE(gss_display_status)
GPUORCH_UNREACHABLE(gss_import_name)
GPUORCH_UNREACHABLE(gss_init_sec_context)
GPUORCH_UNREACHABLE(gss_inquire_context)
GPUORCH_UNREACHABLE(gss_release_buffer)
GPUORCH_UNREACHABLE(gss_release_name)
GPUORCH_UNREACHABLE(gss_unwrap)
GPUORCH_UNREACHABLE(gss_wrap)

// SCP and SFTP (libssh2)
GPUORCH_UNREACHABLE(libssh2_agent_connect)
GPUORCH_UNREACHABLE(libssh2_agent_disconnect)
GPUORCH_UNREACHABLE(libssh2_agent_free)
GPUORCH_UNREACHABLE(libssh2_agent_get_identity)
GPUORCH_UNREACHABLE(libssh2_agent_init)
GPUORCH_UNREACHABLE(libssh2_agent_list_identities)
GPUORCH_UNREACHABLE(libssh2_agent_userauth)
GPUORCH_UNREACHABLE(libssh2_channel_free)
GPUORCH_UNREACHABLE(libssh2_channel_read_ex)
GPUORCH_UNREACHABLE(libssh2_channel_send_eof)
GPUORCH_UNREACHABLE(libssh2_channel_wait_closed)
GPUORCH_UNREACHABLE(libssh2_channel_wait_eof)
GPUORCH_UNREACHABLE(libssh2_channel_write_ex)
GPUORCH_UNREACHABLE(libssh2_hostkey_hash)
GPUORCH_UNREACHABLE(libssh2_knownhost_add)
GPUORCH_UNREACHABLE(libssh2_knownhost_checkp)
GPUORCH_UNREACHABLE(libssh2_knownhost_del)
GPUORCH_UNREACHABLE(libssh2_knownhost_free)
GPUORCH_UNREACHABLE(libssh2_knownhost_get)
GPUORCH_UNREACHABLE(libssh2_knownhost_init)
GPUORCH_UNREACHABLE(libssh2_knownhost_readfile)
GPUORCH_UNREACHABLE(libssh2_knownhost_writefile)
GPUORCH_UNREACHABLE(libssh2_scp_recv2)
GPUORCH_UNREACHABLE(libssh2_scp_send64)
GPUORCH_UNREACHABLE(libssh2_session_abstract)
GPUORCH_UNREACHABLE(libssh2_session_block_directions)
GPUORCH_UNREACHABLE(libssh2_session_callback_set)
GPUORCH_UNREACHABLE(libssh2_session_disconnect_ex)
GPUORCH_UNREACHABLE(libssh2_session_flag)
GPUORCH_UNREACHABLE(libssh2_session_free)
GPUORCH_UNREACHABLE(libssh2_session_handshake)
GPUORCH_UNREACHABLE(libssh2_session_hostkey)
GPUORCH_UNREACHABLE(libssh2_session_init_ex)
GPUORCH_UNREACHABLE(libssh2_session_last_errno)
GPUORCH_UNREACHABLE(libssh2_session_last_error)
GPUORCH_UNREACHABLE(libssh2_session_method_pref)
GPUORCH_UNREACHABLE(libssh2_session_set_blocking)
GPUORCH_UNREACHABLE(libssh2_sftp_close_handle)
GPUORCH_UNREACHABLE(libssh2_sftp_init)
GPUORCH_UNREACHABLE(libssh2_sftp_last_error)
GPUORCH_UNREACHABLE(libssh2_sftp_mkdir_ex)
GPUORCH_UNREACHABLE(libssh2_sftp_open_ex)
GPUORCH_UNREACHABLE(libssh2_sftp_read)
GPUORCH_UNREACHABLE(libssh2_sftp_readdir_ex)
GPUORCH_UNREACHABLE(libssh2_sftp_rename_ex)
GPUORCH_UNREACHABLE(libssh2_sftp_rmdir_ex)
GPUORCH_UNREACHABLE(libssh2_sftp_seek64)
GPUORCH_UNREACHABLE(libssh2_sftp_shutdown)
GPUORCH_UNREACHABLE(libssh2_sftp_stat_ex)
GPUORCH_UNREACHABLE(libssh2_sftp_statvfs)
GPUORCH_UNREACHABLE(libssh2_sftp_symlink_ex)
GPUORCH_UNREACHABLE(libssh2_sftp_unlink_ex)
GPUORCH_UNREACHABLE(libssh2_sftp_write)
GPUORCH_UNREACHABLE(libssh2_userauth_authenticated)
GPUORCH_UNREACHABLE(libssh2_userauth_keyboard_interactive_ex)
GPUORCH_UNREACHABLE(libssh2_userauth_list)
GPUORCH_UNREACHABLE(libssh2_userauth_password_ex)
GPUORCH_UNREACHABLE(libssh2_userauth_publickey_fromfile_ex)

#undef GPUORCH_UNREACHABLE

}  // extern "C"
// NOLINTEND
