/*
 * malloc_trim(0) for the daemon (src/runtime/malloc-trim.ts), as a Node-API addon.
 *
 * glibc's malloc gives memory back to the system only from the top of its heap. After a burst of mail
 * traffic the heap is mostly free but what is still in use is spread over it, so the daemon kept ~25 MB
 * it no longer used; malloc_trim(0) hands the free pages back (madvise), and Node cannot call it itself.
 * Built by scripts/build-native.mjs where a C compiler and glibc are found; the daemon runs without it.
 */
#include <malloc.h>
#include <node_api.h>

static napi_value trim(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value result;
  napi_get_boolean(env, malloc_trim(0) == 1, &result);
  return result;
}

NAPI_MODULE_INIT(/* napi_env env, napi_value exports */) {
  napi_value fn;
  if (napi_create_function(env, "trim", NAPI_AUTO_LENGTH, trim, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "trim", fn) != napi_ok) return NULL;
  return exports;
}
