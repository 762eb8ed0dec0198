build-dev/obj/src/privacy_bench.o: src/privacy_bench.c src/base/config.h \
 src/base/err.h src/base/log.h src/base/timeutil.h src/main_cmds.h \
 src/service/accounts.h src/base/arena.h src/service/app.h \
 src/base/config.h src/crypto/crypto.h src/store/db.h src/store/store.h \
 src/base/buf.h src/service/app.h src/service/privacy.h \
 src/store/privacy.h src/service/vault.h src/store/privacy.h \
 src/store/store.h
src/base/config.h:
src/base/err.h:
src/base/log.h:
src/base/timeutil.h:
src/main_cmds.h:
src/service/accounts.h:
src/base/arena.h:
src/service/app.h:
src/base/config.h:
src/crypto/crypto.h:
src/store/db.h:
src/store/store.h:
src/base/buf.h:
src/service/app.h:
src/service/privacy.h:
src/store/privacy.h:
src/service/vault.h:
src/store/privacy.h:
src/store/store.h:
