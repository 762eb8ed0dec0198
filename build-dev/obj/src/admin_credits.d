build-dev/obj/src/admin_credits.o: src/admin_credits.c src/base/config.h \
 src/base/err.h src/base/log.h src/crypto/crypto.h src/main_cmds.h \
 src/service/app.h src/base/config.h src/crypto/crypto.h src/store/db.h \
 src/service/credits.h
src/base/config.h:
src/base/err.h:
src/base/log.h:
src/crypto/crypto.h:
src/main_cmds.h:
src/service/app.h:
src/base/config.h:
src/crypto/crypto.h:
src/store/db.h:
src/service/credits.h:
