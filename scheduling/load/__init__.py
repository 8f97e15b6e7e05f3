"""`make loadtest`: the production stack on PostgreSQL under load and faults (README,
"Load test"). `stack` starts and stops the processes, `world` prepares the data and the
clients' credentials, `clients` drives the API, `figures` checks what must hold afterwards;
`manage.py loadtest` ties them together."""
