-- Fernhill Coffee Roasters sample shop: products, customers and orders.
-- The SQL examples build a SQLite database from this script once (in the data dir) and open it read-only.
CREATE TABLE products (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  kind TEXT NOT NULL,          -- coffee or equipment
  price REAL NOT NULL,         -- euros
  stock INTEGER NOT NULL
);
CREATE TABLE customers (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  city TEXT NOT NULL
);
CREATE TABLE orders (
  id INTEGER PRIMARY KEY,
  customer_id INTEGER NOT NULL REFERENCES customers(id),
  product_id INTEGER NOT NULL REFERENCES products(id),
  quantity INTEGER NOT NULL,
  ordered_on TEXT NOT NULL     -- ISO date
);
INSERT INTO products VALUES
  (1, 'Leeds Morning Blend', 'coffee', 8.50, 120),
  (2, 'Huila Decaf', 'coffee', 9.75, 40),
  (3, 'Sidamo Natural', 'coffee', 12.00, 65),
  (4, 'Finca El Puente Geisha', 'coffee', 24.00, 8),
  (5, 'Burr Grinder', 'equipment', 89.00, 12),
  (6, 'Gooseneck Kettle', 'equipment', 45.00, 20);
INSERT INTO customers VALUES
  (1, 'Ada Lovelace', 'London'),
  (2, 'Grace Hopper', 'New York'),
  (3, 'Alan Turing', 'Manchester'),
  (4, 'Katherine Johnson', 'Hampton');
INSERT INTO orders VALUES
  (1, 1, 1, 2, '2024-03-02'),
  (2, 1, 5, 1, '2024-03-02'),
  (3, 2, 3, 3, '2024-03-09'),
  (4, 3, 1, 1, '2024-03-15'),
  (5, 3, 2, 2, '2024-03-21'),
  (6, 4, 4, 1, '2024-04-01'),
  (7, 2, 6, 1, '2024-04-03');
