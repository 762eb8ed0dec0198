build-dev/obj/src/service/privacy_rights.o: src/service/privacy_rights.c \
 src/service/privacy.h src/base/buf.h src/base/err.h src/crypto/crypto.h \
 src/service/app.h src/base/config.h src/store/db.h src/store/privacy.h \
 src/base/log.h src/base/timeutil.h src/service/accounts.h \
 src/base/arena.h src/store/store.h src/service/accounts_int.h \
 src/service/mail.h src/service/receipt.h src/service/vault.h
src/service/privacy.h:
src/base/buf.h:
src/base/err.h:
src/crypto/crypto.h:
src/service/app.h:
src/base/config.h:
src/store/db.h:
src/store/privacy.h:
src/base/log.h:
src/base/timeutil.h:
src/service/accounts.h:
src/base/arena.h:
src/store/store.h:
src/service/accounts_int.h:
src/service/mail.h:
src/service/receipt.h:
src/service/vault.h:
