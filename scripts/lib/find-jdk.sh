# Sourced by the other scripts: sets and exports JAVA_HOME to a JDK 22+ (FFM is final in 22).
# Order: $JAVA_HOME, then /usr/lib/jvm/*, then an apt-installed openjdk-2x-jdk if the
# configured apt sources offer one. Otherwise stops with a clear message.

_sockmap4j_jdk_version() { # prints the feature version of the JDK at $1, or nothing
  local rel="$1/release"
  [[ -x "$1/bin/java" && -x "$1/bin/javac" && -f "$rel" ]] || return 0
  sed -n 's/^JAVA_VERSION="\([0-9]*\).*/\1/p' "$rel"
}

_sockmap4j_find_jdk() {
  local c v best="" bestv=0
  if [[ -n "${JAVA_HOME:-}" ]]; then
    v="$(_sockmap4j_jdk_version "$JAVA_HOME")"
    if [[ -n "$v" && "$v" -ge 22 ]]; then echo "$JAVA_HOME"; return 0; fi
  fi
  for c in /usr/lib/jvm/*; do
    [[ -d "$c" && ! -L "$c" ]] || continue
    v="$(_sockmap4j_jdk_version "$c")"
    if [[ -n "$v" && "$v" -ge 22 && "$v" -gt "$bestv" ]]; then best="$c"; bestv="$v"; fi
  done
  [[ -n "$best" ]] && echo "$best"
  return 0
}

_sockmap4j_jdk="$(_sockmap4j_find_jdk)"
if [[ -z "$_sockmap4j_jdk" ]] && [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
  for _p in openjdk-25-jdk-headless openjdk-24-jdk-headless openjdk-23-jdk-headless openjdk-22-jdk-headless; do
    if apt-cache show "$_p" >/dev/null 2>&1; then
      echo "find-jdk: installing $_p" >&2
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$_p" >/dev/null && break
    fi
  done
  _sockmap4j_jdk="$(_sockmap4j_find_jdk)"
fi
if [[ -z "$_sockmap4j_jdk" ]]; then
  echo "error: sockmap4j needs a JDK 22 or newer (java.lang.foreign is final in 22)." >&2
  echo "       None found in JAVA_HOME or /usr/lib/jvm, and apt offers none." >&2
  echo "       Install one (e.g. Temurin 25) and set JAVA_HOME to it." >&2
  return 1 2>/dev/null || exit 1
fi
export JAVA_HOME="$_sockmap4j_jdk"
export PATH="$JAVA_HOME/bin:$PATH"
unset _sockmap4j_jdk _p
