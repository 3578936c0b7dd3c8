import java.util.Arrays;

public final class MatrixOps {

    private static final double EPSILON = 1e-10;

    private MatrixOps() {
    }

    public static double[][] zeros(int rows, int cols) {
        if (rows <= 0 || cols <= 0) {
            throw new IllegalArgumentException("Dimensions must be positive");
        }
        return new double[rows][cols];
    }

    public static double[][] identity(int n) {
        double[][] result = zeros(n, n);
        for (int i = 0; i < n; i++) {
            result[i][i] = 1.0;
        }
        return result;
    }

    public static double[][] copy(double[][] m) {
        double[][] result = new double[m.length][];
        for (int i = 0; i < m.length; i++) {
            result[i] = Arrays.copyOf(m[i], m[i].length);
        }
        return result;
    }

    public static double[][] add(double[][] a, double[][] b) {
        requireSameShape(a, b);
        double[][] result = zeros(a.length, a[0].length);
        for (int i = 0; i < a.length; i++) {
            for (int j = 0; j < a[0].length; j++) {
                result[i][j] = a[i][j] + b[i][j];
            }
        }
        return result;
    }

    public static double[][] scale(double[][] m, double factor) {
        double[][] result = copy(m);
        for (double[] row : result) {
            for (int j = 0; j < row.length; j++) {
                row[j] *= factor;
            }
        }
        return result;
    }

    public static double[][] multiply(double[][] a, double[][] b) {
        if (a[0].length != b.length) {
            throw new IllegalArgumentException(
                    "Cannot multiply " + shape(a) + " by " + shape(b));
        }
        double[][] result = zeros(a.length, b[0].length);
        for (int i = 0; i < a.length; i++) {
            for (int k = 0; k < b.length; k++) {
                double value = a[i][k];
                for (int j = 0; j < b[0].length; j++) {
                    result[i][j] += value * b[k][j];
                }
            }
        }
        return result;
    }

    public static double[] apply(double[][] m, double[] v) {
        if (m[0].length != v.length) {
            throw new IllegalArgumentException("Vector length does not match matrix");
        }
        double[] result = new double[m.length];
        for (int i = 0; i < m.length; i++) {
            result[i] = dot(m[i], v);
        }
        return result;
    }

    public static double dot(double[] a, double[] b) {
        double sum = 0.0;
        for (int i = 0; i < a.length; i++) {
            sum += a[i] * b[i];
        }
        return sum;
    }

    public static double[][] transpose(double[][] m) {
        double[][] result = zeros(m[0].length, m.length);
        for (int i = 0; i < m.length; i++) {
            for (int j = 0; j < m[0].length; j++) {
                result[j][i] = m[i][j];
            }
        }
        return result;
    }

    public static double determinant(double[][] m) {
        if (m.length != m[0].length) {
            throw new IllegalArgumentException("Matrix must be square");
        }
        double[][] work = copy(m);
        int n = work.length;
        double det = 1.0;
        for (int col = 0; col < n; col++) {
            int pivot = col;
            for (int row = col + 1; row < n; row++) {
                if (Math.abs(work[row][col]) > Math.abs(work[pivot][col])) {
                    pivot = row;
                }
            }
            if (Math.abs(work[pivot][col]) < EPSILON) {
                return 0.0;
            }
            if (pivot != col) {
                double[] tmp = work[pivot];
                work[pivot] = work[col];
                work[col] = tmp;
                det = -det;
            }
            det *= work[col][col];
            for (int row = col + 1; row < n; row++) {
                double ratio = work[row][col] / work[col][col];
                for (int j = col; j < n; j++) {
                    work[row][j] -= ratio * work[col][j];
                }
            }
        }
        return det;
    }

    private static void requireSameShape(double[][] a, double[][] b) {
        if (a.length != b.length || a[0].length != b[0].length) {
            throw new IllegalArgumentException(shape(a) + " does not match " + shape(b));
        }
    }

    public static String shape(double[][] m) {
        return m.length + "x" + (m.length == 0 ? 0 : m[0].length);
    }

    public static String format(double[][] m) {
        StringBuilder sb = new StringBuilder();
        for (double[] row : m) {
            for (int j = 0; j < row.length; j++) {
                sb.append(String.format("%9.3f", row[j]));
            }
            sb.append('\n');
        }
        return sb.toString();
    }
}
