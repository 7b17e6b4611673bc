/*
 * controllers.h - the controllers of the eight kinds.
 */
#ifndef DBP_CONTROLLERS_H
#define DBP_CONTROLLERS_H

struct mgr;
struct events;

/* Registers one controller per kind with the manager. ev may be NULL (no
 * events are emitted then). max_conns caps the connections per database
 * server (0 = 4). */
void controllers_register(struct mgr *m, struct events *ev,
    unsigned max_conns);

/* Where the PersistentVolumeClaims of storage.type pvc are mounted
 * (--backup-volume-root; NULL: /data). */
void ctrl_backup_configure(const char *volume_root);

/* Calls cb once per cached object of the eight kinds with its Kind
 * ("Database"), status.phase ("" when unset) and namespace (metrics). */
void controllers_count(struct mgr *m, void (*cb)(const char *kind,
    const char *phase, const char *ns, void *arg), void *arg);

#endif
