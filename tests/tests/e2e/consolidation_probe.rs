//! Probes of the consolidation and the desk's downloads from outside: what a user with bad luck
//! or an attacker would send.
