/*
 * ppprof's install script, built by the Makefile from the topic files of
 * sql/src/ in the order of SQL_SRC: edit those, never the built script.
 * It creates the final state of this version directly; there are no
 * upgrade scripts while no version has been released (CHANGELOG.md).
 */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION ppprof" to load this file. \quit
