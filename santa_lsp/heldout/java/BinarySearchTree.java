import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.NoSuchElementException;

public class BinarySearchTree<T extends Comparable<T>> {

    private static class Node<T> {
        T value;
        Node<T> left;
        Node<T> right;

        Node(T value) {
            this.value = value;
        }
    }

    private Node<T> root;
    private int size;

    public int size() {
        return size;
    }

    public boolean isEmpty() {
        return root == null;
    }

    public boolean add(T value) {
        if (value == null) {
            throw new IllegalArgumentException("null values are not allowed");
        }
        if (root == null) {
            root = new Node<>(value);
            size++;
            return true;
        }
        Node<T> current = root;
        while (true) {
            int cmp = value.compareTo(current.value);
            if (cmp == 0) {
                return false;
            }
            Node<T> next = cmp < 0 ? current.left : current.right;
            if (next == null) {
                if (cmp < 0) {
                    current.left = new Node<>(value);
                } else {
                    current.right = new Node<>(value);
                }
                size++;
                return true;
            }
            current = next;
        }
    }

    public boolean contains(T value) {
        Node<T> current = root;
        while (current != null) {
            int cmp = value.compareTo(current.value);
            if (cmp == 0) {
                return true;
            }
            current = cmp < 0 ? current.left : current.right;
        }
        return false;
    }

    public T min() {
        if (root == null) {
            throw new NoSuchElementException("tree is empty");
        }
        Node<T> node = root;
        while (node.left != null) {
            node = node.left;
        }
        return node.value;
    }

    public boolean remove(T value) {
        int before = size;
        root = remove(root, value);
        return size < before;
    }

    private Node<T> remove(Node<T> node, T value) {
        if (node == null) {
            return null;
        }
        int cmp = value.compareTo(node.value);
        if (cmp < 0) {
            node.left = remove(node.left, value);
        } else if (cmp > 0) {
            node.right = remove(node.right, value);
        } else {
            if (node.left == null || node.right == null) {
                size--;
                return node.left != null ? node.left : node.right;
            }
            Node<T> successor = node.right;
            while (successor.left != null) {
                successor = successor.left;
            }
            node.value = successor.value;
            node.right = remove(node.right, successor.value);
        }
        return node;
    }

    public int height() {
        return height(root);
    }

    private int height(Node<T> node) {
        if (node == null) {
            return 0;
        }
        return 1 + Math.max(height(node.left), height(node.right));
    }

    public List<T> inOrder() {
        List<T> result = new ArrayList<>();
        Deque<Node<T>> stack = new ArrayDeque<>();
        Node<T> current = root;
        while (current != null || !stack.isEmpty()) {
            while (current != null) {
                stack.push(current);
                current = current.left;
            }
            current = stack.pop();
            result.add(current.value);
            current = current.right;
        }
        return result;
    }

    public List<T> range(T low, T high) {
        List<T> result = new ArrayList<>();
        collectRange(root, low, high, result);
        return result;
    }

    private void collectRange(Node<T> node, T low, T high, List<T> out) {
        if (node == null) {
            return;
        }
        if (low.compareTo(node.value) < 0) {
            collectRange(node.left, low, high, out);
        }
        if (low.compareTo(node.value) <= 0 && high.compareTo(node.value) >= 0) {
            out.add(node.value);
        }
        if (high.compareTo(node.value) > 0) {
            collectRange(node.right, low, high, out);
        }
    }

    @Override
    public String toString() {
        return "BST" + inOrder();
    }
}
