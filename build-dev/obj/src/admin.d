build-dev/obj/src/admin.o: src/admin.c src/base/config.h src/base/err.h \
 src/base/log.h src/base/timeutil.h src/crypto/crypto.h src/main_cmds.h \
 src/service/accounts.h src/base/arena.h src/service/app.h \
 src/base/config.h src/crypto/crypto.h src/store/db.h src/store/store.h \
 src/base/buf.h src/service/app.h src/store/db.h
src/base/config.h:
src/base/err.h:
src/base/log.h:
src/base/timeutil.h:
src/crypto/crypto.h:
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
src/store/db.h:
