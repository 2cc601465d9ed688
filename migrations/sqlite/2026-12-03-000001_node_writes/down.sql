DROP TABLE node_writes;
