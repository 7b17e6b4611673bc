/*
 * ctrl_myobs.c - the observation of a MySQL / MariaDB account name, shared
 * by the DatabaseUser, DatabaseRole and DatabaseGrant controllers for
 * engine mysql (see ctrl.h): the server flavour (MYPLAN_Q_SERVER), the
 * accounts of the name on every host (myplan_q_accounts), their roles
 * (myplan_q_roles) and, when asked, the privileges of each account
 * (myplan_q_privileges, five queries per host). The queries are steps
 * with %L values, rendered with the live connection's escaping and sent
 * one by one on the admin connection.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cpass.h"
#include "ctrl.h"
#include "myplan.h"
#include "sqlstep.h"

/* Query numbers above those of the other observers. */
enum {
	QMU_SERVER = 40,
	QMU_ACCOUNTS,
	QMU_ROLES,
	QMU_PRIV		/* + enum myplan_privq */
};

void
ctrl_myuser_init(struct ctrl_myuser *o)
{
	memset(o, 0, sizeof(*o));
	myplan_obs_user_init(&o->obs, NULL);
	sqlplan_init_dialect(&o->q, SQL_DIALECT_MYSQL);
}

void
ctrl_myuser_release(struct ctrl_myuser *o)
{
	myplan_obs_user_release(&o->obs);
	sqlplan_release(&o->q);
	free(o->name);
	memset(o, 0, sizeof(*o));
}

static void
obs_server(struct cpass *p)
{
	cpass_query(p, QMU_SERVER, MYPLAN_Q_SERVER, 0, NULL);
}

void
ctrl_myuser_observe(struct cpass *p, struct ctrl_myuser *o, const char *name,
    bool privileges)
{
	myplan_obs_user_release(&o->obs);
	myplan_obs_user_init(&o->obs, NULL);
	sqlplan_clear(&o->q);
	free(o->name);
	o->name = xstrdup(name);
	o->privileges = privileges;
	o->acct = 0;
	p->observer = o;
	cpass_with_conn(p, NULL, obs_server);
}

int
ctrl_myuser_row(struct cpass *p, struct ctrl_myuser *o,
    const char *const *cols, int ncols)
{
	switch (p->q) {
	case QMU_SERVER:
		return myplan_server_row(&o->server, cols, ncols);
	case QMU_ACCOUNTS:
		return myplan_obs_account_row(&o->obs, cols, ncols);
	case QMU_ROLES:
		return myplan_obs_role_row(&o->obs, cols, ncols);
	}
	if (p->q >= QMU_PRIV && p->q < QMU_PRIV + MYPLAN_PRIVQ__COUNT &&
	    o->acct < o->obs.n)
		return myplan_obs_priv_row(&o->obs, o->obs.v[o->acct].host,
		    (enum myplan_privq)(p->q - QMU_PRIV), cols, ncols);
	return -1;
}

/* The privileges of the next account, or true when all are observed. */
static bool
next_account(struct cpass *p, struct ctrl_myuser *o)
{
	if (!o->privileges || o->acct >= o->obs.n)
		return true;
	sqlplan_clear(&o->q);
	if (myplan_q_privileges(&o->q, o->name, o->obs.v[o->acct].host) < 0 ||
	    o->q.n != MYPLAN_PRIVQ__COUNT) {
		cpass_run_failed(p, "observe", o->q.err);
		return false;
	}
	cpass_query_step(p, QMU_PRIV, &o->q.v[0]);
	return false;
}

bool
ctrl_myuser_answered(struct cpass *p, struct ctrl_myuser *o)
{
	int k;

	switch (p->q) {
	case QMU_SERVER:
		myplan_obs_user_release(&o->obs);
		myplan_obs_user_init(&o->obs, &o->server);
		sqlplan_clear(&o->q);
		if (myplan_q_accounts(&o->q, &o->server, o->name) < 0 ||
		    myplan_q_roles(&o->q, &o->server, o->name) < 0) {
			cpass_run_failed(p, "observe", o->q.err);
			return false;
		}
		cpass_query_step(p, QMU_ACCOUNTS, &o->q.v[0]);
		return false;
	case QMU_ACCOUNTS:
		cpass_query_step(p, QMU_ROLES, &o->q.v[1]);
		return false;
	case QMU_ROLES:
		o->acct = 0;
		return next_account(p, o);
	}
	k = p->q - QMU_PRIV;
	if (k + 1 < MYPLAN_PRIVQ__COUNT) {
		cpass_query_step(p, QMU_PRIV + k + 1, &o->q.v[k + 1]);
		return false;
	}
	o->acct++;
	return next_account(p, o);
}
