build-dev/obj/src/privacy_cli.o: src/privacy_cli.c src/base/config.h \
 src/base/err.h src/base/log.h src/crypto/crypto.h src/main_cmds.h \
 src/service/app.h src/base/config.h src/crypto/crypto.h src/store/db.h \
 src/service/receipt.h src/service/backup.h src/service/app.h \
 src/service/privacy.h src/base/buf.h src/store/privacy.h \
 src/service/retention.h src/base/timeutil.h
src/base/config.h:
src/base/err.h:
src/base/log.h:
src/crypto/crypto.h:
src/main_cmds.h:
src/service/app.h:
src/base/config.h:
src/crypto/crypto.h:
src/store/db.h:
src/service/receipt.h:
src/service/backup.h:
src/service/app.h:
src/service/privacy.h:
src/base/buf.h:
src/store/privacy.h:
src/service/retention.h:
src/base/timeutil.h:
